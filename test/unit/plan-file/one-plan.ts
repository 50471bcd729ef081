// One plan of three hosts and every output made of it, as the commands make them: run's text and
// --json, and the saved plan as written and as `mxplay show` reads it back. Shared by the tests
// that check the outputs agree and that the documents match their schemas.
import { renderAs } from '../../../src/cli/plan.ts';
import { planItems, type HostPlan } from '../../../src/engine/plan.ts';
import type { HostResult } from '../../../src/engine/run.ts';
import { parsePlanFile, type PlanInputs } from '../../../src/plan-file/format.ts';
import { hostRecords, hostViews, makePlanFile, makeRunReport, planSummary, runReportJson } from '../../../src/plan-file/make.ts';
import { file, sha256 } from '../../../src/resources/file.ts';
import { service } from '../../../src/resources/service.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { renderPlanText } from '../../../src/ui/plan-text.ts';
import { item } from '../helpers.ts';

export const reg = new SecretRegistry();
export const SECRET = 'one-record-secret-4e1a9';
reg.add(SECRET);
/** A secret the file held before, unknown to the run: masked where the new one stands. */
export const FORMER_SECRET = 'old-unknown-token-77';

export const b64 = (s: string) => Buffer.from(s).toString('base64');
const fileState = (content: string) => ({ kind: 'file', mode: '644', owner: 'root', group: 'root', sha: sha256(content), content: b64(content) });
const oldConf = `listen = 80\ntoken = ${FORMER_SECRET}\n`;
const newConf = `listen = 8080\ntoken = ${SECRET}\n`;
export const keyFile = `-----BEGIN KEY-----\n${SECRET}\n-----END KEY-----\n`;

/** hs1: a create, a change with a diff, a removal, a secret file, a '?' item, an unchanged service and a pending handler. */
export function hs1(): HostPlan {
  const items = [
    item(file({ path: '/etc/app/new.conf', content: 'greeting = hello\n' }), 'app'),
    item(file({ path: '/etc/app/app.conf', content: newConf }), 'app'),
    item(file({ path: '/etc/app/old.conf', state: 'absent' }), 'app'),
    item(file({ path: '/etc/app/app.key', content: keyFile, sensitive: true, mode: 0o600 }), 'app'),
    item(file({ path: '/etc/app/data.conf', content: 'x\n', owner: 'app' }), 'app'),
    item(service({ name: 'app' }), 'app'),
  ];
  const states = [
    { kind: 'none' },
    fileState(oldConf),
    fileState('retired = yes\n'),
    { kind: 'none' },
    { kind: 'none', ownerMissing: true },
    { LoadState: 'loaded', ActiveState: 'active', UnitFileState: 'enabled' },
  ];
  return { host: 'hs1', ...planItems(items, states, items.map(() => undefined)), pendingHandlers: ['restart app'] };
}
/** hs2 could not be reached; hs3 has nothing to do. */
const hs2: HostResult = { host: 'hs2', status: 'unreachable', ok: 0, changed: 0, handlers: [], roundTrips: 0, seconds: 1, message: 'connect ETIMEDOUT 10.0.0.2:22' };
const hs3: HostPlan = { host: 'hs3', items: [], pendingHandlers: [], errors: [] };
const HOSTS = ['hs1', 'hs2', 'hs3'];
const plans = [hs1(), hs3];
const inputs: PlanInputs = { playbook: 'site.yml', inventory: 'prod', extraVars: [], files: [], secrets: 'f'.repeat(64) };

/** run: the records it shows (with the whole file texts for --json only), its text and its --json. */
export const runViews = hostViews(HOSTS, plans, [hs2], reg);
export const runText = renderPlanText(runViews, planSummary(runViews), false, reg);
export const runJson = runReportJson(makeRunReport({ check: true, applied: false, hosts: hostViews(HOSTS, plans, [hs2], reg, { texts: true }), results: [hs2] }, reg), reg);

/** plan -o plan.json: the file as written, and as show and apply read it back. */
export const pf = makePlanFile(inputs, hostRecords(HOSTS, plans, [hs2], reg), reg, new Date('2025-03-01T10:00:00Z'));
export const saved = renderAs(pf, 'json', false, reg);
export const shown = parsePlanFile(saved, 'plan.json');
/** `mxplay show`: the saved file read back, with no secret known (it holds none). */
export const show = (format: 'json' | 'markdown' | 'text') => renderAs(shown, format, false, new SecretRegistry());
