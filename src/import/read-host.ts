// What mxplay import runs on the host: Python, with the interpreter that has Synapse, so that
// Synapse's own loader reads its configuration. It prints one JSON object (HostSnapshot).
export const READ_HOST_PY = String.raw`
import json, os, socket, ssl, subprocess, sys, http.client
from urllib.parse import urlparse

out = {}

def run(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return {'code': r.returncode, 'out': r.stdout, 'err': r.stderr}
    except (FileNotFoundError, subprocess.TimeoutExpired) as e:
        return {'code': 127, 'out': '', 'err': str(e)}

def installed(name):
    r = run(['dpkg-query', '-W', '-f=$' '{Status}', name])
    return r['code'] == 0 and 'install ok installed' in r['out']

out['packages'] = {p: installed(p) for p in ['matrix-synapse', 'matrix-synapse-py3', 'postgresql', 'nginx', 'apache2', 'coturn']}

# Synapse: each file as Synapse finds it (homeserver.yaml, then conf.d in name order), and the merge.
try:
    import yaml
    from synapse.config._base import find_config_files, read_config_files
    paths = find_config_files(['/etc/matrix-synapse/homeserver.yaml', '/etc/matrix-synapse/conf.d/'])
    files = []
    for p in paths:
        with open(p) as f:
            files.append({'path': p, 'data': yaml.safe_load(f) or {}})
    workers = sorted(os.listdir('/etc/matrix-synapse/workers')) if os.path.isdir('/etc/matrix-synapse/workers') else []
    out['synapse'] = {'files': files, 'merged': read_config_files(paths), 'workers': workers}
except Exception as e:  # no Synapse here, or a config it cannot read: said in the report
    out['synapse'] = {'error': '%s: %s' % (type(e).__name__, e)}

if os.path.exists('/etc/turnserver.conf'):
    with open('/etc/turnserver.conf', errors='replace') as f:
        out['coturn'] = {'path': '/etc/turnserver.conf', 'text': f.read()}

def psql(query):
    r = run(['runuser', '-u', 'postgres', '--', 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', query])
    if r['code'] != 0:
        raise RuntimeError(r['err'].strip())
    return r['out'].strip()

if out['packages']['postgresql']:
    try:
        out['postgres'] = {
            'databases': json.loads(psql("SELECT coalesce(json_agg(json_build_object('name', datname, 'owner', pg_get_userbyid(datdba), 'encoding', pg_encoding_to_char(encoding), 'lc_collate', datcollate, 'lc_ctype', datctype) ORDER BY datname), '[]') FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'")),
            'users': json.loads(psql("SELECT coalesce(json_agg(rolname ORDER BY rolname), '[]') FROM pg_roles WHERE rolcanlogin AND rolname <> 'postgres'")),
            'listen_addresses': psql('SHOW listen_addresses'),
            'hba': json.loads(psql("SELECT coalesce(json_agg(to_jsonb(r)), '[]') FROM pg_hba_file_rules r")),
        }
    except Exception as e:
        out['postgres'] = {'error': str(e)}

def fetch(name, path):
    # The host's own proxy asked by name (SNI and Host) on loopback: what clients get there.
    try:
        ctx = ssl._create_unverified_context()
        c = http.client.HTTPSConnection('127.0.0.1', 443, timeout=10, context=ctx)
        c.sock = ctx.wrap_socket(socket.create_connection(('127.0.0.1', 443), 10), server_hostname=name)
        c.request('GET', path, headers={'Host': name})
        r = c.getresponse()
        return {'status': r.status, 'body': r.read().decode('utf-8', 'replace')}
    except Exception as e:
        return {'error': str(e)}

if out['packages']['nginx']:
    r = run(['nginx', '-T'])
    out['nginx'] = {'dump': r['out'], 'ok': r['code'] == 0, 'err': r['err'][-2000:]}
    # The names the Synapse config says the proxy serves: the server name and the client API's host.
    merged = out.get('synapse', {}).get('merged') or {}
    names = sorted({n for n in [merged.get('server_name'), urlparse(str(merged.get('public_baseurl') or '')).hostname] if n})
    out['nginx']['wellKnown'] = {n: {d: fetch(n, '/.well-known/matrix/' + d) for d in ['server', 'client', 'support']} for n in names}
    links = {}
    for d in ['/etc/nginx/sites-enabled', '/etc/nginx/conf.d']:
        if os.path.isdir(d):
            for e in os.listdir(d):
                p = os.path.join(d, e)
                if os.path.islink(p):
                    links[p] = os.path.realpath(p)
    out['nginx']['links'] = links

json.dump(out, sys.stdout, sort_keys=True, default=str)
`;
