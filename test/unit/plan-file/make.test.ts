import { describe, expect, it } from 'vitest';
import { planItems, type HostPlan } from '../../../src/engine/plan.ts';
import { canonicalJson, fingerprint } from '../../../src/plan-file/digest.ts';
import { planFileSchema } from '../../../src/plan-file/format.ts';
import { hostRecord, makePlanFile } from '../../../src/plan-file/make.ts';
import { file, sha256 } from '../../../src/resources/file.ts';
import { service } from '../../../src/resources/service.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { item } from '../helpers.ts';

/** One registry for the file, as one run has one. */
const reg = new SecretRegistry();

const SECRET = 'make-test-secret-5b0c1';
reg.add(SECRET);

const b64 = (s: string) => Buffer.from(s).toString('base64');
const oldConf = 'listen = 80\nsecret = make-test-secret-5b0c1\n';
const newConf = 'listen = 8080\nsecret = make-test-secret-5b0c1\n';
const keyFile = `-----BEGIN KEY-----\n${SECRET}\n-----END KEY-----\n`;

function plan(): HostPlan {
  const items = [
    item(file({ path: '/etc/app.conf', content: newConf }), 'app'),
    item(file({ path: '/etc/app.key', content: keyFile, sensitive: true, mode: 0o600 }), 'app'),
    item(service({ name: 'app' }), 'app'),
  ];
  const states = [
    { kind: 'file', mode: '644', owner: 'root', group: 'root', sha: sha256(oldConf), content: b64(oldConf) },
    { kind: 'none' },
    { LoadState: 'loaded', ActiveState: 'active', UnitFileState: 'enabled' },
  ];
  return { host: 'h1', ...planItems(items, states, [undefined, undefined, undefined]), pendingHandlers: [] };
}

const inputs = { playbook: 'site.yml', inventory: 'prod', extraVars: [], files: [], secrets: 'f'.repeat(64) };

describe('hostRecord: a host of the plan file', () => {
  const h = hostRecord(plan(), reg);

  it('lists the changes with masked diffs; a secret file has neither diff nor content, only a fingerprint', () => {
    expect(h.changes).toEqual([
      {
        action: '~', type: 'file', id: '/etc/app.conf', role: 'app', summary: 'content',
        diff: '--- /etc/app.conf\n+++ /etc/app.conf\n@@ -1,2 +1,2 @@\n-listen = 80\n+listen = 8080\n secret = ********',
      },
      { action: '+', type: 'file', id: '/etc/app.key', role: 'app', summary: 'create (0600 root:root)', secret: true, content: fingerprint(keyFile, reg) },
    ]);
  });

  it('fingerprints every resource, the unchanged service too, and each planned change', () => {
    expect(h.resources.map((r) => [r.type, r.id, r.planned])).toEqual([
      ['file', '/etc/app.conf', '~'],
      ['file', '/etc/app.key', '+'],
      ['service', 'app', 'ok'],
    ]);
    for (const r of h.resources) expect(r.state).toMatch(/^[0-9a-f]{64}$/);
    expect(h.resources[2]!.state).toBe(fingerprint({ UnitFileState: 'enabled', LoadState: 'loaded', ActiveState: 'active' }, reg));
    expect(h.resources[0]!.change).toMatch(/^[0-9a-f]{64}$/);
    expect(h.resources[2]!.change).toBeUndefined();
  });

  it('the whole plan file holds the secret nowhere, also not base64-encoded, and reads back', () => {
    const pf = makePlanFile(inputs, [h], reg);
    const text = JSON.stringify(pf);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(b64(keyFile).slice(0, 40));
    expect(text).not.toContain(b64(oldConf).slice(0, 20));
    expect(planFileSchema.safeParse(JSON.parse(text)).success).toBe(true);
    expect(pf.summary).toEqual({ changes: 2, hosts: 1, failed: 0 });
  });
});

describe('fingerprint', () => {
  const rows: { name: string; a: unknown; b: unknown; same: boolean }[] = [
    { name: 'key order does not matter', a: { x: 1, y: { p: 1, q: 2 } }, b: { y: { q: 2, p: 1 }, x: 1 }, same: true },
    { name: 'a value differs', a: { kind: 'file', sha: '1' }, b: { kind: 'file', sha: '2' }, same: false },
    { name: 'array order matters', a: ['a', 'b'], b: ['b', 'a'], same: false },
    { name: 'no state and null are one', a: undefined, b: null, same: true },
  ];
  for (const r of rows) it(r.name, () => expect(fingerprint(r.a, reg) === fingerprint(r.b, reg)).toBe(r.same));

  it('is keyed with the secrets: not the plain hash of the data', () => {
    expect(fingerprint({ a: 1 }, reg)).not.toBe(sha256(canonicalJson({ a: 1 })));
  });
});
