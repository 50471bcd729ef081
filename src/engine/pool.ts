/** Run fn over items with at most `limit` at once; results in input order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Ansible's `serial`: a count or a percentage of the play's hosts per batch. */
export function serialBatches<T>(hosts: T[], serial: number | string | undefined): T[][] {
  if (serial === undefined || hosts.length === 0) return [hosts];
  const size =
    typeof serial === 'number' ? serial : Math.max(1, Math.floor((hosts.length * parseInt(serial, 10)) / 100));
  const out: T[][] = [];
  for (let i = 0; i < hosts.length; i += size) out.push(hosts.slice(i, i + size));
  return out;
}
