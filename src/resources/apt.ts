import { q } from './sh.ts';
import { common, type FactProbe, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface AptOptions extends ResourceCommon {
  names: string[];
  state?: 'present' | 'absent' | 'latest';
  /** Passed as apt-get's -t (e.g. a backports suite). */
  target_release?: string;
  install_recommends?: boolean;
  /**
   * Install without starting the packages' services (a policy-rc.d for the install): a service the
   * play configures first then starts once, at the end of the play, on its whole configuration.
   */
  no_start?: boolean;
}

/**
 * Debian's way to keep maintainer scripts from starting services (deb-systemd-invoke asks it).
 * mxplay's own is recognised by its text: one left behind by a cut connection is replaced and
 * removed by the next such install; an administrator's own is left alone.
 */
const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const POLICY_TEXT = '#!/bin/sh\n# mxplay: services of this install start later, with their configuration\nexit 101\n';

function withoutStarting(install: string): string {
  return [
    `if [ -e ${POLICY_RC_D} ] && [ "$(cat ${POLICY_RC_D})" != "$(printf '${POLICY_TEXT}')" ]; then`,
    `  ${install}`,
    'else',
    `  printf '${POLICY_TEXT}' > ${POLICY_RC_D} && chmod 755 ${POLICY_RC_D}`,
    `  ${install} && mxp_rc=0 || mxp_rc=$?`,
    `  rm -f ${POLICY_RC_D}`,
    '  [ "$mxp_rc" = 0 ]',
    'fi',
  ].join('\n');
}

/** Per package: dpkg's status abbreviation and installed version, and the candidate for `latest`. */
export interface AptState {
  pkgs: Record<string, { status: string; version: string; candidate?: string }>;
}

/** Marker left by apt_source changes: the next install refreshes the package lists first. */
export const APT_UPDATE_MARKER = '/var/lib/mxplay/apt-update-needed';

const APT = 'apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** Lists are refreshed when a source changed or they are older than a day (or missing). */
const REFRESH = [
  `if [ -e ${APT_UPDATE_MARKER} ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then`,
  `  apt-get -q -o DPkg::Lock::Timeout=600 update && rm -f ${APT_UPDATE_MARKER}`,
  'fi',
].join('\n');

/**
 * dpkg's db:Status-Abbrev is desired action, current status, error flag: "ii ", "hi " (held),
 * "rc " (removed, config left), "iU " (unpacked). Only the second letter says what is on disk.
 */
const installed = (s: { status: string } | undefined) => !!s && s.status[1] === 'i';
const onDisk = (s: { status: string } | undefined) => !!s && s.status.length > 1 && !'nc'.includes(s.status[1]!);

export function planApt(o: AptOptions, s: AptState): PlanResult {
  const state = o.state ?? 'present';
  const env = 'export DEBIAN_FRONTEND=noninteractive';
  if (state === 'absent') {
    const remove = o.names.filter((n) => onDisk(s.pkgs[n]));
    if (!remove.length) return null;
    return { action: '-', summary: `remove ${remove.join(' ')}`, script: `${env}\n${APT} remove ${remove.map(q).join(' ')}` };
  }
  const missing = o.names.filter((n) => !installed(s.pkgs[n]));
  const outdated =
    state === 'latest'
      ? o.names.filter((n) => installed(s.pkgs[n]) && s.pkgs[n]!.candidate && s.pkgs[n]!.candidate !== s.pkgs[n]!.version)
      : [];
  const todo = [...missing, ...outdated];
  if (!todo.length) return null;
  const flags = [
    o.target_release ? `-t ${q(o.target_release)}` : '',
    o.install_recommends === false ? '--no-install-recommends' : '',
  ].filter(Boolean);
  const parts = [
    missing.length ? `install ${missing.join(' ')}` : '',
    outdated.length ? `upgrade ${outdated.map((n) => `${n} ${s.pkgs[n]!.version} → ${s.pkgs[n]!.candidate}`).join(', ')}` : '',
  ].filter(Boolean);
  return {
    action: missing.length ? '+' : '~',
    summary: parts.join('; '),
    script: [env, REFRESH, (o.no_start ? withoutStarting : (x: string) => x)(`${APT} install ${[...flags, ...todo.map(q)].join(' ')}`)].join('\n'),
  };
}

export function apt(o: AptOptions): Resource<AptState> {
  const latest = (o.state ?? 'present') === 'latest';
  // Presence is read with every other package of the host in one dpkg-query; `latest` also needs
  // apt-cache's candidate, per package.
  const probe: string | FactProbe<AptState> = !latest ? {
    facts: { packages: o.names },
    read: (f) => ({ pkgs: Object.fromEntries(o.names.map((n) => [n, { status: '', version: '', candidate: '', ...f.pkg(n) }])) }),
  } : [
    `printf '{"pkgs":{'; sep=`,
    `for n in ${o.names.map(q).join(' ')}; do`,
    `  v=$(dpkg-query -W -f='\${db:Status-Abbrev}|\${Version}' "$n" 2>/dev/null)`,
    // The candidate as the install will pick it: with -t, from the target release.
    `  c=$(apt-cache ${o.target_release ? `-t ${q(o.target_release)} ` : ''}policy "$n" 2>/dev/null | awk '/Candidate:/{print $2}')`,
    `  printf '%s"%s":{"status":"%s","version":"%s","candidate":"%s"}' "$sep" "$n" "\${v%%|*}" "\${v#*|}" "$c"; sep=,`,
    `done; printf '}}\\n'`,
  ].join('\n');
  return {
    type: 'apt',
    id: o.names.join(','),
    probe,
    plan: (s) => planApt(o, s),
    ...common(o),
  };
}
