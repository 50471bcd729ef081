import { factsNeedTemp, factsScript, parseFacts } from '../resources/facts.ts';
import { HEREDOC_END, q } from '../resources/sh.ts';
import type { FileWrite, Resource } from '../resources/types.ts';
import { batchScript } from './file-batch.ts';

/** Where mxplay keeps its own state on a host: backups of replaced files, pending handlers. */
export const STATE_DIR = '/var/lib/mxplay';
export const PENDING_FILE = `${STATE_DIR}/pending-handlers`;
/**
 * Held (flock) by an apply script for as long as it runs. An apply whose connection dropped goes on
 * running on the host; a run started meanwhile must neither plan from its half-applied state nor
 * apply beside it. The file says who holds it while one runs; an apply empties it as it ends.
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
# Backups hold old secrets: root's alone. Those an older mxplay left readable by their group are
# made private once, not walked again at every apply (the marker says it was done).
[ -e "$MXP_STATE/backup/.private" ] || { : > "$MXP_STATE/backup/.private"; chmod -R go= "$MXP_STATE/backup"; }
exec 9>>${LOCK_FILE}
if ! flock -n 9; then ${SAY_BUSY}; exit 1; fi
echo "pid $$ since $(date -u +%Y-%m-%dT%H:%M:%SZ)" > ${LOCK_FILE}
MXP_OUT=$(mktemp) MXP_RB=$(mktemp) MXP_BID=$(mktemp)
trap 'rm -f "$MXP_OUT" "$MXP_RB" "$MXP_BID"; : > ${LOCK_FILE}' EXIT
MXP_RBON=
MXP_KEEP=${BACKUP_VERSIONS}
# Tests before each mv/rm and umask switched in place rather than in a subshell: a backup of a file
# with no earlier versions forks almost nothing (40 new files once cost ~0.4 s of forks).
mxp_there() { [ -e "$1" ] || [ -L "$1" ]; }
mxp_version_mv() {
  for x in '' .mxp-meta; do
    if mxp_there "$1$x"; then mv -f "$1$x" "$2$x"; elif mxp_there "$2$x"; then rm -f "$2$x"; fi
  done
}
mxp_backup() {
  b="$MXP_STATE/backup$1"
  [ -d "\${b%/*}" ] || { umask 077; mkdir -p "\${b%/*}"; umask 022; }
  [ -n "$MXP_RBON" ] && printf '%s\\n' "$1" >> "$MXP_RB"
  i=$((MXP_KEEP - 1))
  for o in "$b.mxp-$i" "$b.mxp-$i.mxp-meta" "$b.absent"; do if mxp_there "$o"; then rm -f "$o"; fi; done
  while [ $i -gt 1 ]; do mxp_version_mv "$b.mxp-$((i - 1))" "$b.mxp-$i"; i=$((i - 1)); done
  if [ $MXP_KEEP -gt 1 ]; then mxp_version_mv "$b" "$b.mxp-1"; else rm -f "$b" "$b.mxp-meta"; fi
  if mxp_there "$1"; then
    m=$(stat -c '%a %u %g' -- "$1") && rm -f "$b.mxp-tmp" \\
      && (umask 077; cp -P --preserve=timestamps -- "$1" "$b.mxp-tmp") && { [ -L "$b.mxp-tmp" ] || chmod 600 "$b.mxp-tmp"; } \\
      && mv -f "$b.mxp-tmp" "$b" && { umask 077; echo "$m" > "$b.mxp-meta"; umask 022; }
  else umask 077; echo absent > "$b.mxp-meta"; umask 022; fi
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
  const queries = resources.flatMap((r) => (typeof r.probe === 'string' ? [] : [r.probe.facts]));
  const facts = factsScript(queries);
  // Each shell probe's stderr goes to a file of its own run: when the probe fails, its exit status
  // and its stderr (base64, so no text of it can pass for a marker) follow its output, after an
  // end line that is always printed last in its section (a probe printing one itself cannot be
  // taken for it), so a failure is reported with the shell's own words for that resource.
  const parts = resources.flatMap((r, i) =>
    typeof r.probe === 'string'
      ? [
          `echo "@@mxp probe ${i}"\n( ${r.probe}\n) 2>"$MXP_T/pe"; MXP_PC=$?; echo; echo "@@mxp end ${i} $MXP_PC"; ` +
            `if [ -s "$MXP_T/pe" ]; then tail -c 4000 "$MXP_T/pe" | base64 -w0; echo; fi`,
        ]
      : [],
  );
  // One private temporary folder for the facts' lists and the probes' stderr: one mktemp, one rm.
  const temp = parts.length || factsNeedTemp(queries)
    ? ['MXP_T=$(mktemp -d) || { echo "cannot make a temporary folder (mktemp -d) for the probe" >&2; exit 1; }', `trap 'rm -rf "$MXP_T"' EXIT`]
    : [];
  // A shared lock only while testing (on a descriptor: no command to run under it): it fails while
  // an apply holds the lock, and is gone with the descriptor at once. An apply that ended emptied
  // the file (its EXIT trap, lock still held): then no flock is started. One that died without its
  // trap left it full, and flock tells. (The apply takes the lock itself: this is the plan's warning.)
  const busy = `if [ -s ${LOCK_FILE} ] && ! { flock -s -n 9; } 9< ${LOCK_FILE}; then ${SAY_BUSY}; fi`;
  // The shell's own read and printf: the file is short, a cat would be one more program to start.
  const pending = `if [ -f ${PENDING_FILE} ]; then while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < ${PENDING_FILE}; fi`;
  return [busy, ...temp, ...(facts ? [facts] : []), ...parts, 'echo "@@mxp pending"', pending, ''].join('\n');
}

export interface ProbeOutput {
  states: unknown[];
  errors: (string | undefined)[];
  pending: string[];
  /** Set when another apply holds the host's lock: who holds it. */
  busy?: string;
}

/**
 * Read the probe script's output. `scriptStderr` is the whole script's stderr: what to quote when
 * the script itself stopped before a probe could run (it is not otherwise needed).
 */
export function parseProbeOutput(stdout: string, resources: Resource[], scriptStderr = ''): ProbeOutput {
  const count = resources.length;
  const states: unknown[] = new Array(count).fill(undefined);
  const errors: (string | undefined)[] = new Array(count).fill(undefined);
  const pending: string[] = [];
  let current: number | string | null = null;
  const lines = new Map<number | string, string[]>();
  /** Per shell probe: its exit status and stderr, from its end line (the last one of its section). */
  const ends = new Map<number, { code: number; tail: string[] }>();
  let busy: string | undefined;
  for (const line of stdout.split('\n')) {
    const holder = busyHolder(line);
    if (holder !== undefined) {
      busy = holder;
      continue;
    }
    const m = /^@@mxp (?:probe (\d+)|facts (\w+)|(pending)|end (\d+) (\d+))$/.exec(line);
    if (m && m[4] !== undefined) {
      // A probe's own output could hold such a line; the real one comes after all of it, so the
      // last one wins and whatever came before it is the probe's output again.
      const i = Number(m[4]);
      const earlier = ends.get(i);
      if (earlier && current === `end:${i}`) lines.set(i, [...(lines.get(i) ?? []), ...earlier.tail]);
      ends.set(i, { code: Number(m[5]), tail: [] });
      current = `end:${i}`;
      continue;
    }
    if (m) {
      current = m[1] !== undefined ? Number(m[1]) : (m[2] ?? 'pending');
      continue;
    }
    if (current === 'pending') {
      if (line.trim()) pending.push(line.trim());
    } else if (typeof current === 'string' && current.startsWith('end:')) {
      if (line.trim()) ends.get(Number(current.slice(4)))!.tail.push(line);
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
    const end = ends.get(i);
    let failure: string | undefined;
    if (!end) {
      // The script stopped before this probe ended (a probe before it broke the script itself).
      const why = scriptStderr.trim().split('\n').slice(-5).join('\n').slice(-1000);
      failure = why ? `the probe did not run to its end: ${why}` : 'the probe printed nothing';
    } else {
      const said = end.tail.length ? decodeStderr(end.tail.join('')) : '';
      if (end.code !== 0 || !last) failure = `${end.code !== 0 ? `the probe failed (exit ${end.code})` : 'the probe printed nothing'}${said ? `: ${said}` : ''}`;
    }
    if (!last) {
      errors[i] = failure ?? 'the probe printed nothing';
      return;
    }
    try {
      states[i] = JSON.parse(last);
    } catch {
      errors[i] = `the probe printed something that is not JSON: ${last.slice(0, 200)}${failure ? ` (${failure})` : ''}`;
    }
  });
  return { states, errors, pending, ...(busy !== undefined ? { busy } : {}) };
}

/** A probe's stderr as sent (base64), as text to quote: its last lines, within bounds. */
function decodeStderr(b64: string): string {
  const text = Buffer.from(b64, 'base64').toString('utf8').trim();
  return text.split('\n').slice(-10).join('\n').slice(-1000);
}

/** One step of an apply script: a change, or the check that closes a validation set. */
export type ApplyStep =
  /**
   * `guard`: a condition checked again just before the step runs (a command's creates/unless,
   * which an earlier step of the same run may have made true): when it holds, the step is
   * skipped, reported `@@mxp skip N`, and notifies nothing.
   */
  | { kind: 'change'; id: number; script: string; notify: string[]; group?: number; guard?: string; write?: FileWrite }
  | { kind: 'validate'; group: number; command: string; notify: string[] }
  | { kind: 'handler'; id: number; name: string; script: string };

type BatchStep = Extract<ApplyStep, { kind: 'change' }> & { write: FileWrite };

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
  // Validation sets with a guarded member notify only if a member really ran (MXP_GCH).
  const guardedGroups = new Set(steps.flatMap((s) => (s.kind === 'change' && s.guard && s.group !== undefined ? [s.group] : [])));
  const groupStarted = new Set<number>();
  const batchable = (s: ApplyStep | undefined): s is BatchStep => s?.kind === 'change' && !!s.write?.path.startsWith('/') && !s.guard && s.group === undefined;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    // Two or more files in a row (outside validation sets): written by one process.
    let end = i;
    while (batchable(steps[end])) end++;
    if (end - i >= 2) {
      out.push(batchScript(steps.slice(i, end) as BatchStep[], PENDING_FILE));
      i = end - 1;
      continue;
    }
    if (s.kind === 'change') {
      if (s.group !== undefined) out.push('MXP_RBON=1');
      if (s.group !== undefined && guardedGroups.has(s.group) && !groupStarted.has(s.group)) {
        groupStarted.add(s.group);
        out.push('MXP_GCH=');
      }
      const body = [
        `${step(s.script)}\nif [ $MXP_RC -eq 0 ]; then echo "@@mxp ok ${s.id}"; else mxp_fail ${s.id} $MXP_RC; fi`,
        ...(s.group === undefined ? s.notify.map((n) => `mxp_notify ${q(n)}`) : guardedGroups.has(s.group) ? ['MXP_GCH=1'] : []),
      ];
      if (!s.guard) out.push(...body);
      else {
        // Evaluated now, not only when planning: an earlier step of this run may have made it true.
        out.push(`if ( trap - PIPE; ${s.guard}\n) 9>&- >/dev/null 2>&1; then echo "@@mxp skip ${s.id}"; else`, ...body, 'fi');
      }
    } else if (s.kind === 'validate') {
      const notify = s.notify.map((n) => `mxp_notify ${q(n)}`);
      out.push(
        `if ( trap - PIPE; ${s.command}\n) 9>&- >"$MXP_OUT" 2>&1; then echo "@@mxp valid ${s.group}"; else mxp_fail validate:${s.group} $?; fi`,
        ...(guardedGroups.has(s.group) && notify.length ? [`if [ -n "$MXP_GCH" ]; then`, ...notify, 'fi'] : notify),
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
  /** Steps skipped because their guard held when they came to run. */
  skipped: Set<number>;
  valid: Set<number>;
  failed?: { step: string; code: number; output: string; rolledBack: boolean };
  done: boolean;
}

export function parseApplyOutput(stdout: string): ApplyOutput {
  const r: ApplyOutput = { ok: new Set(), skipped: new Set(), valid: new Set(), done: false };
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    let m: RegExpExecArray | null;
    const holder = busyHolder(line);
    if (holder !== undefined) r.busy = holder;
    else if ((m = /^@@mxp ok (\d+)$/.exec(line))) r.ok.add(Number(m[1]));
    else if ((m = /^@@mxp skip (\d+)$/.exec(line))) r.skipped.add(Number(m[1]));
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

/**
 * A script as the verbose log shows it (-vv): as sent, but with the data of each here-document
 * (base64: file contents, SQL, passwords) replaced by its size. Decoded or not, that data can hold
 * a secret in a form the registry does not know (an SQL literal, a config format's own escaping,
 * a private key that is no registered secret, base64 cut across lines): it is never logged. What
 * a file will hold is in the plan's diffs, which are masked with the knowledge of its format.
 */
export function scriptForLog(script: string): string {
  const out: string[] = [];
  let body: string[] | undefined;
  for (const line of script.split('\n')) {
    if (body) {
      if (line === HEREDOC_END) {
        const b64 = body.join('');
        const bytes = /^[A-Za-z0-9+/=]*$/.test(b64) ? Buffer.from(b64, 'base64').length : undefined;
        out.push(bytes !== undefined ? `[${bytes} bytes of data, not shown]` : `[${body.length} lines of data, not shown]`, line);
        body = undefined;
      } else body.push(line);
      continue;
    }
    out.push(line);
    // A here-document of ours starts on the next line (sh.ts: base64Heredoc, pipedFrom).
    if (line.includes(`<<'${HEREDOC_END}'`)) body = [];
  }
  // A here-document never closed (not one of ours after all): its lines stay hidden.
  if (body) out.push(`[${body.length} lines not shown]`);
  return out.join('\n');
}
