// What the engine logs (-v, -vv) over real shells: timings and round trips, handler decisions,
// and the probe and apply scripts with the data of their here-documents left out and every
// secret masked.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyScript, scriptForLog } from '../../../src/engine/scripts.ts';
import { configureLog } from '../../../src/log.ts';
import { command } from '../../../src/resources/command.ts';
import { file } from '../../../src/resources/file.ts';
import { base64Heredoc, pipedFrom } from '../../../src/resources/sh.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { playWork, runHost } from '../engine/run-host.ts';
import { tempDir } from '../helpers.ts';
import { capture } from './capture.ts';

const SECRET = `Hunter2-"it's"-${'x'.repeat(4)}-secret-value`;

describe('the engine at -vv', () => {
  it('logs the probe and apply scripts (data left out, secrets masked), timings, round trips and handler decisions', async () => {
    const dir = tempDir();
    const me = userInfo().username;
    const secrets = new SecretRegistry();
    secrets.add(SECRET);
    const out = capture();
    const logFile = join(dir, 'run.log');
    configureLog({ verbosity: 2, file: logFile, secrets, stream: out.stream });
    // 54 bytes before the secret: its base64 starts at character 72, across the here-document's line break.
    const content = `${'#'.repeat(40)}\npassword: ${'y'.repeat(3)}${SECRET}\n`;
    const conf = join(dir, 'app.conf');
    const marker = join(dir, 'reloaded');
    const { result } = await runHost([
      playWork(0, [
        file({ path: conf, content, owner: me, group: userInfo().gid === 0 ? 'root' : String(userInfo().gid), notify: 'reload app' }),
        command({ name: 'seed', cmd: `printf '%s' '${SECRET.replaceAll("'", `'\\''`)}' > ${join(dir, 'seed')}` }),
      ], {
        'reload app': command({ name: 'reload', cmd: `touch ${marker}` }),
        'restart other': command({ name: 'restart', cmd: 'true' }),
      }),
    ]);
    expect(result.status, result.message).toBe('changed');
    expect(readFileSync(join(dir, 'seed'), 'utf8')).toBe(SECRET);
    const text = out.text();
    const logged = readFileSync(logFile, 'utf8');

    // -v: timings, round trips, handler decisions
    expect(text).toMatch(/^\[h1\] probe: 2 resource\(s\) in \d+\.\d{3}s$/m);
    expect(text).toMatch(/^\[h1\] apply: 2 change\(s\) in \d+\.\d{3}s: file .*app\.conf, command seed$/m);
    expect(text).toMatch(/^\[h1\] handler reload app: runs \(end of play "play 1"\), notified by file .*app\.conf$/m);
    expect(text).toMatch(/^\[h1\] handler restart other: skipped, not notified$/m);
    expect(text).toMatch(/^\[h1\] handlers: 1 in \d+\.\d{3}s: reload app$/m);
    expect(text).toMatch(/^\[h1\] play "play 1" applied in \d+\.\d{3}s$/m);
    expect(text).toMatch(/^\[h1\] changed: 4 round trips, \d+\.\d{3}s in all, 2 changed, handlers run: reload app$/m);

    // -vv: the scripts, each a block
    expect(text).toMatch(/^\[h1\] probe script, round trip 1 \(\d+ bytes\):$/m);
    expect(text).toMatch(/^\[h1\] \| echo "@@mxp pending"$/m);
    expect(text).toMatch(/^\[h1\] apply script, round trip 2 \(\d+ bytes\):$/m);
    expect(text).toMatch(/^\[h1\] \| mxp_put .*app\.conf 0644 .* <<'MXP_EOF'\n\[h1\] \| \[\d+ bytes of data, not shown\]\n\[h1\] \| MXP_EOF$/m);
    expect(text).toMatch(/^\[h1\] \| printf '%s' '\*{8}' > /m);
    expect(text).toMatch(/^\[h1\] handlers probe script, round trip 3/m);
    expect(text).toMatch(/^\[h1\] handlers script, round trip 4/m);
    expect(text).toMatch(/^\[h1\] apply script: exit 0 after \d+\.\d{3}s, \d+ bytes of output$/m);

    // No secret, and no piece of the data sent, in any form
    const b64 = Buffer.from(content).toString('base64');
    for (const t of [text, logged]) {
      expect(t).not.toContain(SECRET);
      expect(t).not.toContain('Hunter2');
      for (let i = 0; i + 12 <= b64.length; i += 4) expect(t).not.toContain(b64.slice(i, i + 12));
    }
    // the file: the same lines with timestamps
    const bare = logged.split('\n').filter(Boolean).map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, ''));
    expect(bare.slice(1).join('\n') + '\n').toBe(text);
  });

  it('a handler notified but defined by no play of its own is said to stay pending', async () => {
    const out = capture();
    configureLog({ verbosity: 1, secrets: new SecretRegistry(), stream: out.stream });
    const dir = tempDir();
    await runHost([
      playWork(0, [command({ name: 'step', cmd: `touch ${join(dir, 'a')}`, notify: 'later' })]),
      playWork(1, [], { later: command({ name: 'later', cmd: 'true' }) }),
    ]);
    expect(out.text()).toMatch(/^\[h1\] handler later: notified by command step, but play "play 1" does not define it: stays pending for a later play$/m);
    expect(out.text()).toMatch(/^\[h1\] handler later: runs \(end of play "play 2"\), notified by command step$/m);
  });

  it('at verbosity 0 without a file, nothing is logged and no script is rendered for the log', async () => {
    const out = capture();
    configureLog({ verbosity: 0, secrets: new SecretRegistry(), stream: out.stream });
    await runHost([playWork(0, [command({ name: 'x', cmd: 'true' })])]);
    expect(out.text()).toBe('');
  });
});

describe('scriptForLog', () => {
  it('leaves out the data of every here-document, keeping the commands around it', () => {
    const data = 'a'.repeat(200);
    const script = applyScript([
      { kind: 'change', id: 0, script: `mxp_put /etc/x 0600 root root ${base64Heredoc(data)}\necho after`, notify: [] },
      { kind: 'change', id: 1, script: pipedFrom('SELECT 1;\n', 'psql -X'), notify: [] },
    ]);
    const shown = scriptForLog(script);
    expect(shown).toContain("mxp_put /etc/x 0600 root root <<'MXP_EOF'\n[200 bytes of data, not shown]\nMXP_EOF\necho after");
    expect(shown).toContain("base64 -d <<'MXP_EOF' | psql -X\n[10 bytes of data, not shown]\nMXP_EOF");
    expect(shown).not.toContain(Buffer.from(data).toString('base64').slice(0, 20));
    expect(shown).toContain('echo "@@mxp done"');
  });

  it('a here-document never closed hides the rest rather than show it', () => {
    expect(scriptForLog("cat <<'MXP_EOF'\nc2VjcmV0\nmore")).toBe("cat <<'MXP_EOF'\n[2 lines not shown]");
  });
});
