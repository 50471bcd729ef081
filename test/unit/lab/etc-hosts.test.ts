// The lab's /etc/hosts: the extra names a test gives its hosts (public-looking names such as
// acme.test) live in a block of their own, which survives the hosts block being rewritten when
// other lab hosts start.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateEtcHostsBlock, writeAliasesBlock, writeEtcHosts } from '../../lab/etc-hosts.ts';
import { tempDir } from '../helpers.ts';

function root(): string {
  const r = tempDir('mxp-lab-root-');
  mkdirSync(join(r, 'etc'));
  return r;
}
const hosts = (r: string) => readFileSync(join(r, 'etc/hosts'), 'utf8');
const lines = (r: string) => hosts(r).split('\n').filter((l) => l.startsWith('10.231.'));

describe('lab /etc/hosts aliases', () => {
  it('each host with aliases gets one line of them; hosts without any get none', async () => {
    const r = root();
    await writeEtcHosts(r, [{ name: 'fedacme', ip: '10.231.0.100' }, { name: 'fedbeta', ip: '10.231.0.101' }]);
    await writeAliasesBlock(r, [
      { ip: '10.231.0.100', aliases: ['acme.test', 'chat.acme.test'] },
      { ip: '10.231.0.101', aliases: ['beta.test'] },
      { ip: '10.231.0.102', aliases: [] },
    ]);
    expect(lines(r)).toEqual([
      '10.231.0.100\tfedacme fedacme.lab.test',
      '10.231.0.101\tfedbeta fedbeta.lab.test',
      '10.231.0.100\tacme.test chat.acme.test',
      '10.231.0.101\tbeta.test',
    ]);
  });

  it('written again, the block is replaced, not repeated', async () => {
    const r = root();
    await writeEtcHosts(r, [{ name: 'fedacme', ip: '10.231.0.100' }]);
    await writeAliasesBlock(r, [{ ip: '10.231.0.100', aliases: ['old.test'] }]);
    await writeAliasesBlock(r, [{ ip: '10.231.0.100', aliases: ['acme.test'] }]);
    expect(lines(r)).toEqual(['10.231.0.100\tfedacme fedacme.lab.test', '10.231.0.100\tacme.test']);
  });

  it('survives the hosts block being rewritten when another lab host starts, as do lines a role added', async () => {
    const r = root();
    await writeEtcHosts(r, [{ name: 'fedacme', ip: '10.231.0.100' }]);
    await writeAliasesBlock(r, [{ ip: '10.231.0.100', aliases: ['acme.test'] }]);
    writeFileSync(join(r, 'etc/hosts'), `${hosts(r)}192.0.2.1\tadded-by-a-role\n`);
    await updateEtcHostsBlock(r, [{ name: 'fedacme', ip: '10.231.0.100' }, { name: 'late', ip: '10.231.0.103' }]);
    expect(lines(r)).toEqual(['10.231.0.100\tfedacme fedacme.lab.test', '10.231.0.103\tlate late.lab.test', '10.231.0.100\tacme.test']);
    expect(hosts(r)).toContain('192.0.2.1\tadded-by-a-role\n');
  });
});
