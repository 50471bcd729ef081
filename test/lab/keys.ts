// The lab's own SSH client key: generated once, used for every lab host, so
// the inventory can name one fixed key file.
import { access, readFile } from 'node:fs/promises';
import { KEY_FILE } from './config.ts';
import { run } from './exec.ts';

/** Returns the public key line ("ssh-ed25519 AAAA... mxplay-lab"). */
export async function ensureLabKey(): Promise<string> {
  const missing = await access(KEY_FILE).then(
    () => false,
    () => true,
  );
  if (missing) {
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'mxplay-lab', '-f', KEY_FILE]);
  }
  try {
    return (await readFile(`${KEY_FILE}.pub`, 'utf8')).trim();
  } catch {
    // The .pub was lost; the private key is the truth.
    return (await run(['ssh-keygen', '-y', '-f', KEY_FILE])).stdout.trim();
  }
}
