// Every variable of every built-in role is set by some test (or exempt, with a reason), and
// docs/role-var-coverage.md is the current table of which tests set what.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXEMPT, TABLE_FILE, coverageTable, roleVarCoverage } from '../../../scripts/role-var-coverage/coverage.ts';
import { keysInText, namesSetIn } from '../../../scripts/role-var-coverage/scan.ts';

describe('the scanner: settings count, mentions do not', () => {
  const names = new Set(['alpha_port', 'beta_list', 'gamma_on', 'delta', 'eps_ini', 'zeta_msg', 'eta_title', 'theta_skip', 'iota_flow']);
  const source = `
    it('eta_title=1 in a title', async () => {
      await lab.writeInventory(dir, { alpha_port: 1, ...other });
      const delta = 3;
      await write('host_vars/h.yml', \`gamma_on: true\\nbeta_list:\\n  - a\\n\`);
      await write('hosts', 'h1 ansible_host=x eps_ini=2');
      await run('-e', '{iota_flow: 1}');
      expect(out, 'zeta_msg: wrong').toContain('zeta_msg: 1');
      expect(r).toEqual({ delta });
      console.log('zeta_msg: logged');
    });
    describe('refusals', () => { build({ theta_skip: 'bad' }); });
  `;
  it('object keys, YAML keys, INI and -e settings; not assertions, titles, logs or skipped blocks', () => {
    expect([...namesSetIn('x.ts', names, ['refusals'], source)].sort()).toEqual(['alpha_port', 'beta_list', 'eps_ini', 'gamma_on', 'iota_flow']);
  });
  it('keysInText reads YAML list items and JSON keys, not words followed by a colon inside a line', () => {
    expect([...keysInText('- a_b: 1\n"c_d": 2\nsay e_f: 3')].sort()).toEqual(['a_b', 'c_d']);
  });
});

describe('role variables and the tests that set them', async () => {
  const rows = await roleVarCoverage();

  it('every built-in role variable is set by a test, or exempt with a reason', () => {
    const missing = rows.filter((r) => !r.e2e.length && !r.unit.length && !r.exempt).map((r) => `role ${r.role}: ${r.variable}`);
    expect(missing, 'role variables no test sets: add a test that sets each (npm run docs:coverage lists them)').toEqual([]);
  });

  it('each exemption names a variable that exists, no test sets, and says why', () => {
    for (const [role, vars] of Object.entries(EXEMPT)) {
      for (const [name, why] of Object.entries(vars)) {
        const row = rows.find((r) => r.role === role && r.variable === name);
        expect(row, `exempt ${role}: ${name} is not a variable of that role`).toBeDefined();
        expect(row!.e2e.length + row!.unit.length, `exempt ${role}: ${name} is set by a test now: remove the exemption`).toBe(0);
        expect(why.length).toBeGreaterThan(20);
      }
    }
  });

  it('docs/role-var-coverage.md is current (npm run docs:coverage writes it)', () => {
    expect(readFileSync(TABLE_FILE, 'utf8')).toBe(coverageTable(rows));
  });
});
