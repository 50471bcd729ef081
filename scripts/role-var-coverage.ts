// Writes docs/role-var-coverage.md: each built-in role's variables and the tests that set them
// (test/unit/roles/var-coverage.test.ts checks it is current and that none is left untested).
// `--missing` also lists, on stdout, the variables no test sets.
import { writeFileSync } from 'node:fs';
import { TABLE_FILE, coverageTable, roleVarCoverage } from './role-var-coverage/coverage.ts';

const rows = await roleVarCoverage();
writeFileSync(TABLE_FILE, coverageTable(rows));
const missing = rows.filter((r) => !r.e2e.length && !r.unit.length && !r.exempt);
console.log(`${TABLE_FILE}: ${rows.length} variables, ${missing.length} set by no test`);
if (process.argv.includes('--missing')) for (const r of missing) console.log(`  ${r.role}: ${r.variable}`);
