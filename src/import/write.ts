// The host_vars file an import writes: the roles' variables, every secret found on the host as an
// Ansible Vault value (when a vault password is given) or an !env reference, never in clear.
import { Vault } from 'ansible-vault';
import { Document, Scalar, isScalar, type YAMLMap } from 'yaml';
import { vaultSecrets } from '../config/vault.ts';
import { FoundSecret, isRecord, type RoleImport } from './model.ts';

/** The environment variable an !env reference names: IMP1_SYNAPSE_DB_PASSWORD. */
export function envName(host: string, path: (string | number)[]): string {
  return [host, ...path.map(String)].join('_').toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export interface SecretEntry {
  var: string;
  from: string;
  /** How it is written: 'vault', or the name of the environment variable. */
  as: string;
}

/**
 * The vars of every imported role, in one YAML document. A vault value when the run has a vault
 * password (its first id, as Ansible's encrypt_string uses); otherwise an !env reference, which a
 * run refuses, naming the variable, until it is set.
 */
export function hostVarsDocument(host: string, imports: RoleImport[], header: (secrets: SecretEntry[]) => string[]): { text: string; secrets: SecretEntry[] } {
  const vault = vaultSecrets()[0];
  const secrets: SecretEntry[] = [];
  const node = (v: unknown, path: (string | number)[]): unknown => {
    if (v instanceof FoundSecret) {
      const label = path.join('.');
      if (vault && v.value !== undefined) {
        const s = new Scalar(new Vault({ password: vault.password }).encryptSync(v.value, vault.id === 'default' ? '' : vault.id) + '\n');
        s.tag = '!vault';
        s.type = 'BLOCK_LITERAL';
        secrets.push({ var: label, from: v.from, as: 'vault' });
        return s;
      }
      const name = envName(host, path);
      const s = new Scalar(name);
      s.tag = '!env';
      secrets.push({ var: label, from: v.from, as: name });
      return s;
    }
    // Text with Jinja's markers is the host's text, not a template: Ansible's !unsafe says so.
    if (typeof v === 'string' && /\{[{%#]/.test(v)) {
      const s = new Scalar(v);
      s.tag = '!unsafe';
      return s;
    }
    if (Array.isArray(v)) return v.map((x, i) => node(x, [...path, i]));
    if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, node(x, [...path, k])]));
    return v;
  };
  const doc = new Document({});
  const contents = doc.contents as YAMLMap;
  for (const r of imports) {
    Object.entries(r.vars).forEach(([k, v], i) => {
      const value = node(v, [k]);
      const pair = doc.createPair(k, value);
      // A comment naming the role above its first variable.
      if (i === 0 && isScalar(pair.key)) pair.key.commentBefore = ` role ${r.role}`;
      contents.items.push(pair);
    });
  }
  doc.commentBefore = header(secrets).map((l) => ` ${l}`).join('\n');
  return { text: doc.toString({ lineWidth: 0 }), secrets };
}
