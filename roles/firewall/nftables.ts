import { isIP } from 'node:net';
import { pipedFrom, q, type Change, type Resource } from 'mxplay';
import { renderRuleset, TABLE, type RulesetInput } from './ruleset.ts';

export const CONF = '/etc/nftables.conf';
const DIR = '/var/lib/mxplay/firewall';
/** The transient timer (systemd-run) that undoes an unconfirmed change. */
export const ROLLBACK_UNIT = 'mxplay-firewall-rollback';

export interface NftState {
  nft: boolean;
  /** /etc/nftables.conf in base64, '' when absent. */
  conf: string;
  exists: boolean;
  /** The loaded table: as last loaded by mxplay, changed since (by hand, another tool), or not there. */
  live: 'same' | 'differs' | 'absent';
  enabled: boolean;
  /** SSH_CONNECTION's client address and server port, of this shell or of the sshd session it runs under (sudo drops the variable). */
  client: string;
  port: string;
}

// SSH_CONNECTION of the shell, else of the nearest ancestor that has it (under sudo, the login shell).
// Only address and digit characters are kept: the values go into JSON.
export const PROBE = `c=\${SSH_CONNECTION:-}; p=$$
while [ -z "$c" ] && [ "\${p:-1}" -gt 1 ]; do
  p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status 2>/dev/null)
  c=$(tr '\\0' '\\n' < /proc/\${p:-1}/environ 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p')
done
set -f; set -- $c
cl=$(printf %s "\${1:-}" | tr -cd '0-9a-fA-F:.'); po=$(printf %s "\${4:-}" | tr -cd '0-9')
if command -v nft >/dev/null 2>&1; then n=true; else n=false; fi
if [ -f ${CONF} ]; then e=true; b=$(base64 -w0 < ${CONF}); else e=false; b=; fi
l=absent
if [ $n = true ] && t=$(nft list table ${TABLE} 2>/dev/null); then
  if [ "$(printf '%s\\n' "$t" | sha256sum)" = "$(cat ${DIR}/live.sha 2>/dev/null)" ]; then l=same; else l=differs; fi
fi
if systemctl is-enabled -q nftables 2>/dev/null; then en=true; else en=false; fi
printf '{"nft":%s,"exists":%s,"conf":"%s","live":"%s","enabled":%s,"client":"%s","port":"%s"}\\n' $n $e "$b" $l $en "$cl" "$po"`;

export interface RulesetOptions {
  rules: Omit<RulesetInput, 'ssh'>;
  /** Seconds after which the host undoes a change nobody confirmed. */
  rollbackAfter: number;
}

/** The ruleset with the SSH session's own address, as the host saw it when probed. */
export function rulesetFor(o: RulesetOptions, s: Pick<NftState, 'client' | 'port'>): string {
  const port = Number(s.port);
  const ssh = isIP(s.client) && Number.isInteger(port) && port > 0 && port < 65536 ? { from: s.client, port } : undefined;
  return renderRuleset({ ...o.rules, ...(ssh ? { ssh } : {}) });
}

export function planRuleset(o: RulesetOptions, s: NftState): Change | { unresolved: string } | null {
  if (!s.nft) return { unresolved: 'nft is not installed yet' };
  const want = rulesetFor(o, s);
  const before = s.exists ? Buffer.from(s.conf, 'base64') : null;
  const same = before !== null && before.equals(Buffer.from(want));
  if (same && s.live === 'same' && s.enabled) return null;
  const reasons = [
    !same && 'ruleset',
    s.live === 'absent' && `table ${TABLE} loaded`,
    s.live === 'differs' && `table ${TABLE} changed since mxplay loaded it: loaded again`,
    !s.enabled && 'nftables.service enabled',
  ].filter(Boolean);
  return {
    action: s.exists ? '~' : '+',
    summary: `${reasons.join(', ')}; confirmed over a new SSH connection, else undone by the host after ${o.rollbackAfter}s`,
    script: applyScript(want, o.rollbackAfter),
    diff: { path: CONF, before: before?.toString('utf8') ?? null, after: want },
    confirm: {
      script: confirmScript(),
      // Half the rollback's delay: a connection that would come later is reported before the host undoes the change.
      timeoutMs: Math.max(5, Math.floor(o.rollbackAfter / 2)) * 1000,
      failed: `The firewall change may have cut SSH off: the host restores its previous ruleset and ${CONF} by itself ${o.rollbackAfter}s after it was applied (timer ${ROLLBACK_UNIT}).`,
    },
  };
}

/** Run by the timer if no new connection confirmed the change: the table and the file as they were, and the service's enablement. */
export function rollbackScript(): string {
  return [
    '#!/bin/sh',
    '# Written by mxplay (role firewall): undoes a firewall change no new SSH connection confirmed.',
    `nft delete table ${TABLE} 2>/dev/null`,
    `if [ -s ${DIR}/prev.table ]; then nft -f ${DIR}/prev.table; fi`,
    `if [ -e ${DIR}/prev.conf ]; then cp -p ${DIR}/prev.conf ${CONF}; else rm -f ${CONF}; fi`,
    `if [ "$(cat ${DIR}/prev.enabled 2>/dev/null)" != enabled ]; then systemctl disable -q nftables 2>/dev/null; fi`,
    `rm -f ${DIR}/prev.table ${DIR}/prev.conf ${DIR}/prev.enabled`,
    `nft list table ${TABLE} 2>/dev/null | sha256sum > ${DIR}/live.sha`,
    'exit 0',
    '',
  ].join('\n');
}

/**
 * Check the new ruleset with nft -c, keep the previous state (unless an unconfirmed change still
 * holds the last good one), arm the rollback, then swap the file in and load it.
 */
export function applyScript(ruleset: string, rollbackAfter: number): string {
  const timer = `${ROLLBACK_UNIT}.timer`;
  return [
    `mkdir -p -m 0700 ${DIR}`,
    pipedFrom(ruleset, `cat > ${DIR}/new.conf`),
    `nft -c -f ${DIR}/new.conf || { echo "nft -c refused the new ruleset: nothing was changed" >&2; exit 1; }`,
    `if ! systemctl is-active -q ${timer}; then`,
    `  rm -f ${DIR}/prev.table ${DIR}/prev.conf`,
    `  if [ -e ${CONF} ]; then cp -p ${CONF} ${DIR}/prev.conf; fi`,
    `  nft list table ${TABLE} > ${DIR}/prev.table 2>/dev/null || rm -f ${DIR}/prev.table`,
    `  systemctl is-enabled nftables > ${DIR}/prev.enabled 2>/dev/null || true`,
    'fi',
    pipedFrom(rollbackScript(), `cat > ${DIR}/rollback.sh`),
    // A unit of that name left from an earlier arming would make systemd-run refuse the new one.
    `systemctl stop ${timer} 2>/dev/null || true; systemctl reset-failed ${ROLLBACK_UNIT}.service ${timer} 2>/dev/null || true`,
    `systemd-run --quiet --unit=${ROLLBACK_UNIT} --on-active=${q(`${rollbackAfter}s`)} /bin/sh ${DIR}/rollback.sh`,
    `cp ${DIR}/new.conf ${CONF}.mxp-new && chmod 0755 ${CONF}.mxp-new && mv -f ${CONF}.mxp-new ${CONF}`,
    `if ! nft -f ${CONF}; then`,
    `  systemctl stop ${timer}; /bin/sh ${DIR}/rollback.sh`,
    '  echo "nft -f failed to load the ruleset: the previous one was restored" >&2; exit 1',
    'fi',
    // What was loaded, so that a probe can tell a table changed behind mxplay's back.
    `nft list table ${TABLE} | sha256sum > ${DIR}/live.sha`,
    'systemctl enable -q nftables',
  ].join('\n');
}

/** Over the new connection: the change holds; if the timer already fired, it is too late. */
export function confirmScript(): string {
  return [
    `if ! systemctl is-active -q ${ROLLBACK_UNIT}.timer; then echo "the rollback timer is gone: the host already restored its previous ruleset" >&2; exit 1; fi`,
    `systemctl stop ${ROLLBACK_UNIT}.timer`,
    `rm -f ${DIR}/prev.table ${DIR}/prev.conf ${DIR}/prev.enabled`,
  ].join('\n');
}

export function nftRuleset(o: RulesetOptions & { tags?: string[] }): Resource<NftState> {
  return {
    type: 'nftables',
    id: CONF,
    probe: PROBE,
    plan: (s) => planRuleset(o, s),
    writes: [CONF],
    notify: [],
    tags: o.tags ?? [],
  };
}
