import { stdout } from 'node:process';
import { z } from 'zod';
import { availableRoles, loadRole, roleSearchPath } from '../roles/loader.ts';

interface VarDoc {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
  secret: boolean;
}

function typeName(s: Record<string, unknown>): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (Array.isArray(s.anyOf)) return (s.anyOf as Record<string, unknown>[]).map(typeName).join(' | ');
  if (s.type === 'array' && s.items) return `${typeName(s.items as Record<string, unknown>)}[]`;
  return String(s.type ?? 'any');
}

/** Variables documented from the role's zod schema: the code is the single source of truth. */
export function describeVars(schema: z.ZodObject<any>): VarDoc[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, p]) => ({
    name,
    type: typeName(p),
    required: (json.required ?? []).includes(name) && p.default === undefined,
    ...(p.default !== undefined ? { default: p.default } : {}),
    ...(typeof p.description === 'string' ? { description: p.description } : {}),
    secret: p.secret === true,
  }));
}

export async function rolesCommand(a: { name?: string; json: boolean }): Promise<number> {
  const path = roleSearchPath();
  const names = a.name ? [a.name] : availableRoles(path);
  const docs = [];
  for (const n of names) {
    const { def, dir } = await loadRole(n, path);
    docs.push({ name: def.name, description: def.description ?? '', dir, vars: describeVars(def.vars) });
  }
  if (a.json) {
    stdout.write(JSON.stringify(docs, null, 2) + '\n');
    return 0;
  }
  for (const d of docs) {
    stdout.write(`${d.name}${d.description ? ` — ${d.description}` : ''}\n`);
    if (!a.name) continue;
    for (const v of d.vars) {
      const flags = [v.required ? 'required' : 'default' in v ? `default ${JSON.stringify(v.default)}` : 'optional', v.secret ? 'secret' : ''].filter(Boolean).join(', ');
      stdout.write(`  ${v.name}: ${v.type} (${flags})\n${v.description ? `      ${v.description}\n` : ''}`);
    }
  }
  return 0;
}
