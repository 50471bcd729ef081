import { factsScript, parseFacts } from '../resources/facts.ts';
import { q } from '../resources/sh.ts';
import type { Resource } from '../resources/types.ts';

/** Where mxplay keeps its own state on a host: backups of replaced files, pending handlers. */
export const STATE_DIR = '/var/lib/mxplay';
export const PENDING_FILE = `${STATE_DIR}/pending-handlers`;
/**
 * Held (flock) by an apply script for as long as it runs. An apply whose connection dropped goes on
 * running on the host; a run started meanwhile must neither plan from its half-applied state nor
 * apply beside it. The file says who holds it.
 */
export const LOCK_FILE = `${STATE_DIR}/apply.lock`;

/**
 * How many previous versions of each file the backups keep (the newest is the one a failed
 * validation restores; older ones are for a human going back by hand). Few on purpose: the files
 * are configs that hold secrets, and a rotated password must not live on in old backups for ever.
 * Version 0 is `backup/<path>`, older ones `backup/<path>.mxp-1`, `.mxp-2`, each with a `.mxp-meta`
 * beside it (`MODE UID GID` of the file, or `absent`): the copies themselves are all 0600.
 */
export const BACKUP_VERSIONS = 3;

/** The probe's and the apply's line when another apply holds the lock, and how it is read back. */
const SAY_BUSY = `echo "@@mxp busy $(cat ${LOCK_FILE})"`;
const busyHolder = (line: string) => (line.startsWith('@@mxp busy') ? line.slice(10).trim() : undefined);

/** What a host says when another apply holds the lock, for the plan's and the apply's errors. */
export function busyMessage(holder: string): string {
  return `another mxplay apply is still running on this host (${holder || 'holder unknown'}), perhaps one whose connection was lost: nothing was done; run again once it has ended`;
}

/**
 * Shell functions every apply script starts with, after taking the host's lock (steps run without
 * its descriptor, so a daemon a step starts cannot keep it). Backups keep the previous versions of
 * each file (see BACKUP_VERSIONS), private to root.
 * SIGPIPE is ignored: if the connection drops, the next marker written to the dead stdout must
 * not kill the script between a change and its validation, rollback or notification record.
 */
export const PRELUDE = `trap '' PIPE
MXP_STATE=${STATE_DIR}
umask 022
mkdir -p -m 700 "$MXP_STATE/backup"
# Backups hold old secrets: root's alone (also those an older mxplay left readable by their group).
chmod -R go= "$MXP_STATE/backup"
exec 9>>${LOCK_FILE}
if ! flock -n 9; then ${SAY_BUSY}; exit 1; fi
echo "pid $$ since $(date -u +%Y-%m-%dT%H:%M:%SZ)" > ${LOCK_FILE}
MXP_OUT=$(mktemp) MXP_RB=$(mktemp)
trap 'rm -f "$MXP_OUT" "$MXP_RB"' EXIT
MXP_RBON=
MXP_KEEP=${BACKUP_VERSIONS}
mxp_version_mv() {
  for x in '' .mxp-meta; do
    if [ -e "$1$x" ] || [ -L "$1$x" ]; then mv -f "$1$x" "$2$x"; else rm -f "$2$x"; fi
  done
}
mxp_backup() {
  b="$MXP_STATE/backup$1"
  (umask 077; mkdir -p "\${b%/*}")
  [ -n "$MXP_RBON" ] && printf '%s\\n' "$1" >> "$MXP_RB"
  i=$((MXP_KEEP - 1)); rm -f "$b.mxp-$i" "$b.mxp-$i.mxp-meta" "$b.absent"
  while [ $i -gt 1 ]; do mxp_version_mv "$b.mxp-$((i - 1))" "$b.mxp-$i"; i=$((i - 1)); done
  if [ $MXP_KEEP -gt 1 ]; then mxp_version_mv "$b" "$b.mxp-1"; else rm -f "$b" "$b.mxp-meta"; fi
  if [ -e "$1" ] || [ -L "$1" ]; then
    m=$(stat -c '%a %u %g' -- "$1") && rm -f "$b.mxp-tmp" \\
      && (umask 077; cp -P --preserve=timestamps -- "$1" "$b.mxp-tmp") && { [ -L "$b.mxp-tmp" ] || chmod 600 "$b.mxp-tmp"; } \\
      && mv -f "$b.mxp-tmp" "$b" && (umask 077; echo "$m" > "$b.mxp-meta")
  else (umask 077; echo absent > "$b.mxp-meta"); fi
}
mxp_restore() {
  b="$MXP_STATE/backup$1"
  [ -f "$b.mxp-meta" ] || return 0
  read -r m u g < "$b.mxp-meta"
  if [ "$m" = absent ]; then rm -f "$1"
  else
    rm -f "$1.mxp-tmp" && cp -P --preserve=timestamps -- "$b" "$1.mxp-tmp" && chown -h "$u:$g" "$1.mxp-tmp" \\
      && { [ -L "$1.mxp-tmp" ] || chmod "$m" "$1.mxp-tmp"; } && mv -f "$1.mxp-tmp" "$1"
  fi
}
mxp_put() {
  mxp_backup "$1"
  t="\${1%/*}/.\${1##*/}.mxp-tmp"
  # Written under umask 077: a secret is never readable by others, not even for a moment.
  (umask 077; base64 -d > "$t") && chmod "$2" "$t" && chown "$3:$4" "$t" && mv -f "$t" "$1"
}
mxp_notify() {
  grep -qxF -- "$1" ${PENDING_FILE} 2>/dev/null || printf '%s\\n' "$1" >> ${PENDING_FILE}
}
mxp_handled() {
  if [ -f ${PENDING_FILE} ]; then grep -vxF -- "$1" ${PENDING_FILE} > ${PENDING_FILE}.tmp; mv -f ${PENDING_FILE}.tmp ${PENDING_FILE}; fi
}
mxp_fail() {
  echo "@@mxp fail $1 $2"
  tail -n 80 "$MXP_OUT" | sed 's/^/@@out /'
  if [ -s "$MXP_RB" ]; then
    sort -u "$MXP_RB" | while IFS= read -r p; do mxp_restore "$p"; done
    echo "@@mxp rolledback"
  fi
  exit 1
}
`;

/**
 * One exec that prints every resource's state, plus the handlers left pending by an earlier run:
 * first the facts all FactProbes asked for (read together), then each shell probe in its subshell.
 */
export function probeScript(resources: Resource[]): string {
  const facts = factsScript(resources.flatMap((r) => (typeof r.probe === 'string' ? [] : [r.probe.facts])));
  const parts = resources.flatMap((r, i) => (typeof r.probe === 'string' ? [`echo "@@mxp probe ${i}"\n( ${r.probe}\n) 2>/dev/null`] : []));
  // A shared lock only while testing: it fails while an apply holds the lock, and is gone at once.
  const busy = `if [ -e ${LOCK_FILE} ] && ! flock -s -n ${LOCK_FILE} true; then ${SAY_BUSY}; fi`;
  return [busy, ...(facts ? [facts] : []), ...parts, 'echo "@@mxp pending"', `cat ${PENDING_FILE} 2>/dev/null`, ''].join('\n');
}

export interface ProbeOutput {
  states: unknown[];
  errors: (string | undefined)[];
  pending: string[];
  /** Set when another apply holds the host's lock: who holds it. */
  busy?: string;
}

export function parseProbeOutput(stdout: string, resources: Resource[]): ProbeOutput {
  const count = resources.length;
  const states: unknown[] = new Array(count).fill(undefined);
  const errors: (string | undefined)[] = new Array(count).fill(undefined);
  const pending: string[] = [];
  let current: number | string | null = null;
  const lines = new Map<number | string, string[]>();
  let busy: string | undefined;
  for (const line of stdout.split('\n')) {
    const holder = busyHolder(line);
    if (holder !== undefined) {
      busy = holder;
      continue;
    }
    const m = /^@@mxp (?:probe (\d+)|facts (\w+)|(pending))$/.exec(line);
    if (m) {
      current = m[1] !== undefined ? Number(m[1]) : (m[2] ?? 'pending');
      continue;
    }
    if (current === 'pending') {
      if (line.trim()) pending.push(line.trim());
    } else if (current !== null && line.trim()) {
      const l = lines.get(current) ?? [];
      l.push(line);
      lines.set(current, l);
    }
  }
  const facts = parseFacts(
    new Map([...lines].filter((e): e is [string, string[]] => typeof e[0] === 'string')),
    resources.flatMap((r) => (typeof r.probe === 'string' ? [] : [r.probe.facts])),
  );
  resources.forEach((r, i) => {
    if (typeof r.probe !== 'string') {
      try {
        states[i] = r.probe.read(facts);
      } catch (e) {
        errors[i] = `cannot read the state: ${(e as Error).message}`;
      }
      return;
    }
    const last = lines.get(i)?.at(-1);
    if (!last) {
      errors[i] = 'the probe printed nothing';
      return;
    }
    try {
      states[i] = JSON.parse(last);
    } catch {
      errors[i] = `the probe printed something that is not JSON: ${last.slice(0, 200)}`;
    }
  });
  return { states, errors, pending, ...(busy !== undefined ? { busy } : {}) };
}

/** One step of an apply script: a change, or the check that closes a validation set. */
export type ApplyStep =
  | { kind: 'change'; id: number; script: string; notify: string[]; group?: number }
  | { kind: 'validate'; group: number; command: string; notify: string[] }
  | { kind: 'handler'; id: number; name: string; script: string };

/**
 * A step in a subshell with `set -e`. Not inside `if ( … )`: shells ignore `set -e` in a tested
 * command, so a failing line in the middle of a step would not stop it.
 */
function step(script: string): string {
  return `( trap - PIPE; set -e\n${script}\n) 9>&- >"$MXP_OUT" 2>&1; MXP_RC=$?`;
}

/**
 * The apply script: steps run in order, each in a subshell with `set -e`, its output captured.
 * Files of a validation set are backed up as they are written; if the set's check fails, all of
 * them are restored before the script exits, so a config that fails its own check never stays.
 * Notifications are recorded on the host as soon as a step (or its whole set) succeeded.
 * The whole script is one `{ }` block: the shell reads all of it before running any of it, so a
 * connection lost while the script is still being sent runs nothing rather than a cut-off part.
 */
export function applyScript(steps: ApplyStep[]): string {
  const out = ['{', PRELUDE];
  for (const s of steps) {
    if (s.kind === 'change') {
      if (s.group !== undefined) out.push('MXP_RBON=1');
      out.push(`${step(s.script)}\nif [ $MXP_RC -eq 0 ]; then echo "@@mxp ok ${s.id}"; else mxp_fail ${s.id} $MXP_RC; fi`);
      if (s.group === undefined) for (const n of s.notify) out.push(`mxp_notify ${q(n)}`);
    } else if (s.kind === 'validate') {
      out.push(
        `if ( trap - PIPE; ${s.command}\n) 9>&- >"$MXP_OUT" 2>&1; then echo "@@mxp valid ${s.group}"; else mxp_fail validate:${s.group} $?; fi`,
        ...s.notify.map((n) => `mxp_notify ${q(n)}`),
        ': > "$MXP_RB"; MXP_RBON=',
      );
    } else {
      out.push(
        `${step(s.script)}\nif [ $MXP_RC -eq 0 ]; then echo "@@mxp ok ${s.id}"; mxp_handled ${q(s.name)}; else mxp_fail ${s.id} $MXP_RC; fi`,
      );
    }
  }
  out.push('echo "@@mxp done"', '}', '');
  return out.join('\n');
}

export interface ApplyOutput {
  /** Another apply held the host's lock: who; nothing ran. */
  busy?: string;
  ok: Set<number>;
  valid: Set<number>;
  failed?: { step: string; code: number; output: string; rolledBack: boolean };
  done: boolean;
}

export function parseApplyOutput(stdout: string): ApplyOutput {
  const r: ApplyOutput = { ok: new Set(), valid: new Set(), done: false };
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    let m: RegExpExecArray | null;
    const holder = busyHolder(line);
    if (holder !== undefined) r.busy = holder;
    else if ((m = /^@@mxp ok (\d+)$/.exec(line))) r.ok.add(Number(m[1]));
    else if ((m = /^@@mxp valid (\d+)$/.exec(line))) r.valid.add(Number(m[1]));
    else if ((m = /^@@mxp fail (\S+) (\d+)$/.exec(line))) r.failed = { step: m[1]!, code: Number(m[2]), output: '', rolledBack: false };
    else if (line.startsWith('@@out ')) out.push(line.slice(6));
    else if (line === '@@out') out.push('');
    else if (line === '@@mxp rolledback' && r.failed) r.failed.rolledBack = true;
    else if (line === '@@mxp done') r.done = true;
  }
  if (r.failed) r.failed.output = out.join('\n').trim();
  return r;
}
