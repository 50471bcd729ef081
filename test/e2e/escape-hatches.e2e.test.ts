// The roles' escape hatches for taking over a homeserver built by hand (what `mxplay import`
// writes), on one fresh lab host (esc1) that starts as an administrator left it: a hand-written
// Synapse fragment in conf.d and a hand-written nginx site (sites-available + its sites-enabled
// symlink, live). Then postgres + synapse + coturn + nginx converge with synapse_extra_config
// (hostile values), synapse_replaced_files, proxy_replaced_files and coturn_extra_options:
// - bad values are refused before mxplay even logs in to the host;
// - a set that fails Synapse's or nginx's own check is never swapped in: the hand-written files
//   stay (the symlink as a symlink) and the old site keeps answering;
// - once converged, the hand-written files are gone, Synapse's own loader reads the kept options
//   exactly, Synapse answers through nginx, the old site no longer answers, coturn grants the
//   lifetime its extra option sets; and a second run changes nothing.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { jinjaLiteral } from '../../src/vars/literal.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { curl } from './helpers/https.ts';
import { eventually } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';
import { turnAllocate, turnCredentials } from './helpers/turn-client.ts';

const HOST = 'esc1';
const NAME = 'esc1.lab.test';
const CONF_D = '/etc/matrix-synapse/conf.d';
const HANDMADE = `${CONF_D}/handmade.yaml`;
const SITE = { available: '/etc/nginx/sites-available/matrix', enabled: '/etc/nginx/sites-enabled/matrix' };
const OLD_SITE_PORT = 8081;
const TURN_SECRET = `esc turn "secret" #1 $x\\y 'z'`;

/** The hand-written fragment: one option kept (admin_contact), one the synapse role owns, one dropped. */
const HANDMADE_TEXT = `# written by hand, before mxplay
admin_contact: 'mailto:old-admin@${NAME}'
url_preview_enabled: false
require_auth_for_profile_requests: true
`;
/** Kept through synapse_extra_config; every value must reach Synapse exactly. */
const ADMIN_CONTACT = `mailto:o'brien"+{{ x }}@${NAME}\n: - &a *b # not a comment`;
const NOTE = {
  yes: ['no', '0600', '1:20', '~', 'null', '{% if x %}', 'line one\nline two'],
  "it's": `a "b" \\ c %(app)s $HOME \`id\``,
  nested: { deep: [1, 2.5, true, null, ''] },
};
const EXTRA = { admin_contact: ADMIN_CONTACT, x_mxplay_note: NOTE };

/** Synapse's own loaders, as its processes read the config: raw merged files, and the parsed config. */
const LOADER = `import json
import synapse.app.homeserver  # first, as the role's config check does (circular imports otherwise)
from synapse.config._base import find_config_files, read_config_files
from synapse.config.homeserver import HomeServerConfig
paths = ['/etc/matrix-synapse/homeserver.yaml', '${CONF_D}/']
files = find_config_files(paths)
raw = read_config_files(files)
config = HomeServerConfig.load_config('esc', [a for p in paths for a in ('-c', p)])
print(json.dumps({'files': files, 'admin_contact': config.server.admin_contact, 'note': raw.get('x_mxplay_note'),
                  'profile_auth': raw.get('require_auth_for_profile_requests'), 'url_preview_enabled': config.media.url_preview_enabled}))
`;

describe('escape hatches: a hand-built host taken over by the roles', () => {
  let lab: LabFixture;
  let project: string;
  let ip: string;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  const sh = async (cmd: string) => {
    const r = await lab.ssh(HOST, cmd);
    expect(r.code, `${cmd}\n${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const oldSite = () => curl(`http://${NAME}:${OLD_SITE_PORT}/`, { ip, timeoutS: 5 });
  /**
   * Logins to the host so far, this one included: sshd's line for this very login (its client
   * port) reaches the journal a moment later, so it is waited for (10 s deadline) before counting.
   */
  const logins = async () => Number((await sh(`port=\${SSH_CLIENT#* }; port=\${port%% *}
for i in $(seq 100); do journalctl -o cat --no-pager | grep -q "Accepted publickey .* port $port " && break; sleep 0.1; done
journalctl -o cat --no-pager | grep -c 'Accepted publickey' || true`)).trim());

  beforeAll(async () => {
    lab = await labHosts([HOST]);
    ip = lab.host(HOST).ip;
    project = await projectDir('escape');
    const inv = join(project, 'inventory', 'e2e');
    await lab.writeInventory(inv, {}, { matrix: [HOST] });
    await mkdir(join(inv, 'host_vars'));
    // YAML 1.1, as an inventory is read: '1:20', 'yes' and '0600' quoted, so they stay text.
    await writeFile(join(inv, 'host_vars', `${HOST}.yml`), stringify(jinjaLiteral({
      mxplay_master_secret: 'e2e-master-secret-esc-0123456789',
      synapse_package_source: 'debian',
      synapse_server_name: NAME,
      synapse_public_baseurl: `https://${NAME}/`,
      synapse_extra_config: EXTRA,
      synapse_replaced_files: ['handmade.yaml'],
      proxy_tls_self_signed: true,
      proxy_replaced_files: [SITE.enabled, SITE.available],
      coturn_realm: NAME,
      coturn_shared_secret: TURN_SECRET,
      coturn_extra_options: ['max-allocate-lifetime=120'],
    }), { version: '1.1' }));
    await writeFile(join(project, 'site.yml'), '- hosts: matrix\n  roles: [postgres, synapse, coturn, nginx]\n');
    await writeFile(join(project, 'proxy.yml'), '- hosts: matrix\n  roles: [nginx]\n');
    // The host as its administrator left it: nginx serving a hand-written site, a hand-written fragment.
    await sh(`set -e
export DEBIAN_FRONTEND=noninteractive
apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
apt-get -y -q -o DPkg::Lock::Timeout=600 install nginx >/dev/null
mkdir -p ${CONF_D}
cat > ${HANDMADE} <<'EOF'
${HANDMADE_TEXT}EOF
cat > ${SITE.available} <<'EOF'
server { listen ${OLD_SITE_PORT}; location / { return 200 "handmade site\\n"; } }
EOF
ln -s ../sites-available/matrix ${SITE.enabled}
nginx -t 2>/dev/null && systemctl reload nginx`);
    // A reload takes effect a moment later: polled until the site answers (30 s deadline).
    const before = await eventually(oldSite);
    expect([before.status, before.body]).toEqual([200, 'handmade site\n']);
  }, 300_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('a key a role owns and a path outside nginx\'s folder are refused before mxplay logs in', async () => {
    const before = await logins();
    const r = await run('--yes', '-e', JSON.stringify({ synapse_extra_config: { database: { name: 'sqlite3' } }, proxy_replaced_files: ['/etc/passwd'] }));
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(1);
    expect(out).toMatch(/host esc1, role synapse, key synapse_extra_config: synapse_extra_config\.database: mxplay writes database itself: set it with the synapse_db_\* variables \(role synapse\)/);
    expect(out).toMatch(/host esc1, role nginx, key proxy_replaced_files: proxy_replaced_files\[0\]: \/etc\/passwd: the nginx role removes only files of \/etc\/nginx\//);
    expect(await logins()).toBe(before + 1); // only the count's own login
    expect(await sh(`cat ${HANDMADE}; readlink ${SITE.enabled}; test -e /etc/passwd && echo passwd`)).toBe(`${HANDMADE_TEXT}../sites-available/matrix\npasswd\n`);
  });

  it('options Synapse\'s check refuses are never swapped in: the hand-written fragment stays', async () => {
    const r = await run('--yes', '-e', JSON.stringify({ synapse_extra_config: { default_room_version: 'no-such-version' } }));
    const out = r.stdout + r.stderr;
    expect(r.code, out).not.toBe(0);
    expect(out).toMatch(/validation failed \(.*synapse\.config/);
    expect(out).toContain('no-such-version');
    expect(await sh(`cat ${HANDMADE}; test -e ${CONF_D}/extra.yaml || echo no-extra; systemctl is-active matrix-synapse || true`))
      .toBe(`${HANDMADE_TEXT}no-extra\ninactive\n`);
  });

  it('a vhost nginx -t refuses is never swapped in: the hand-written site and its symlink stay, and answer', async () => {
    const r = await mxplay(['run', 'proxy.yml', '-i', 'e2e', '--yes', '-e', JSON.stringify({ nginx_vhost_extra: 'mxplay_esc_bogus on;' })], { cwd: project });
    const out = r.stdout + r.stderr;
    expect(r.code, out).not.toBe(0);
    expect(out).toMatch(/validation failed \(nginx -t\)/);
    expect(out).toContain('unknown directive "mxplay_esc_bogus"');
    // Still a symlink (restored as one), its target intact, the role's vhost not there.
    expect(await sh(`stat -c %F ${SITE.enabled}; readlink ${SITE.enabled}; cat ${SITE.available}; test -e /etc/nginx/conf.d/mxplay-matrix.conf || echo no-vhost`))
      .toBe(`symbolic link\n../sites-available/matrix\nserver { listen ${OLD_SITE_PORT}; location / { return 200 "handmade site\\n"; } }\nno-vhost\n`);
    expect((await oldSite()).body).toBe('handmade site\n');
  });

  it('converges: hand-written files gone, kept options exact in Synapse, Synapse through nginx, coturn\'s extra option in effect', async () => {
    const r = await run('--yes');
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(0);
    // extra.yaml's diff is hidden (hand-written options may hold secrets).
    expect(out).not.toContain("o'brien");
    expect(out).not.toContain('"secret" #1');

    expect(await sh(`for p in ${HANDMADE} ${SITE.enabled} ${SITE.available}; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done; stat -c '%a %U' ${CONF_D}/extra.yaml`))
      .toBe('600 matrix-synapse\n');
    const loaded = JSON.parse(await sh(`cd /var/lib/matrix-synapse && runuser -u matrix-synapse -- python3 - <<'PYEOF'\n${LOADER}PYEOF`));
    expect(loaded.files).toContain(`${CONF_D}/extra.yaml`);
    expect(loaded.files).not.toContain(HANDMADE);
    expect(loaded.admin_contact).toBe(ADMIN_CONTACT);
    expect(loaded.note).toEqual(NOTE);
    expect(loaded.profile_auth).toBeNull(); // only the hand-written fragment had it
    expect(loaded.url_preview_enabled).toBe(false);

    // From outside: Synapse through nginx (the host's own CA), the old site gone.
    const caFile = join(project, 'ca.crt');
    await writeFile(caFile, await sh('cat /etc/ssl/mxplay-selfsigned/ca.crt'));
    const versions = await curl(`https://${NAME}/_matrix/client/versions`, { ip, ca: caFile });
    expect(versions.status).toBe(200);
    expect(versions.json.versions).toContain('v1.1');
    // require_auth_for_profile_requests is gone: an unknown user's profile is 404, not 401.
    const profile = await curl(`https://${NAME}/_matrix/client/v3/profile/${encodeURIComponent(`@nobody:${NAME}`)}`, { ip, ca: caFile });
    expect(profile.status).toBe(404);
    await expect(oldSite()).rejects.toThrow(/Connection refused|Failed to connect/);

    // coturn read the extra line: it grants at most 120 s (its default is 600) and logged no bad line.
    const [user, password] = turnCredentials(TURN_SECRET, 'esc');
    expect(await turnAllocate(ip, 3478, user, password)).toEqual({ code: 200, lifetime: 120 });
    expect(await sh("journalctl -u coturn -o cat --no-pager | grep -c 'Bad configuration format' || true")).toBe('0\n');
  });

  it('on the running host, one refused set keeps everything: a role fragment, a removal, the extra options, Synapse not restarted', async () => {
    const state = `cat ${CONF_D}/media.yaml ${CONF_D}/extra.yaml ${CONF_D}/late.yaml; systemctl show -p MainPID --value matrix-synapse`;
    await sh(`printf 'auto_join_rooms: []\\n' > ${CONF_D}/late.yaml`);
    const before = await sh(state);
    const r = await run('--yes', '-e', JSON.stringify(jinjaLiteral({
      synapse_max_upload_size: '7M', // media.yaml changes
      synapse_replaced_files: ['handmade.yaml', 'late.yaml'], // late.yaml goes
      synapse_extra_config: { ...EXTRA, default_room_version: 'no-such-version' }, // refused by Synapse
    })));
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/validation failed[^]*no-such-version[^]*media\.yaml[^]*late\.yaml/);
    expect(await sh(state)).toBe(before);
    await sh(`rm ${CONF_D}/late.yaml`);
  });

  it('a second run changes nothing', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, HOST)).toBe(0);
  });
});
