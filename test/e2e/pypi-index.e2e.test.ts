// The lab's Python package index (helpers/pypi-index.ts): served from the control machine on the lab
// bridge, it is what a lab host without any route to PyPI installs txredisapi from with pip, as it
// would from a private mirror. Debian provides its dependencies (twisted, six) and hiredis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { pypiIndex, type PypiIndex } from './helpers/pypi-index.ts';

const HOST = 'pypi1';

describe('the lab PyPI index', () => {
  let lab: LabFixture;
  let index: PypiIndex;

  beforeAll(async () => {
    lab = await labHosts([HOST]);
    // After labHosts: the lab bridge (and so the control machine's address on it) exists now.
    index = await pypiIndex();
  });

  afterAll(async () => {
    await index?.close();
    await lab?.stop();
  });

  it("a lab host installs txredisapi with pip from the control machine's index", async () => {
    expect(index.url).toMatch(/^http:\/\/10\.231\.0\.1:\d+\/simple\/$/);
    const apt = await lab.ssh(HOST, 'DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pip python3-six python3-twisted python3-hiredis');
    expect(apt.code, apt.stdout + apt.stderr).toBe(0);

    const pip = await lab.ssh(HOST, `PIP_ROOT_USER_ACTION=ignore pip install --disable-pip-version-check --no-cache-dir --break-system-packages --index-url ${index.url} --trusted-host ${index.trustedHost} txredisapi`);
    expect(pip.code, pip.stdout + pip.stderr).toBe(0);
    expect(pip.stdout).toContain('Successfully installed txredisapi-1.4.11');
    // The wheel (py3-none-any), found through the project page.
    expect(index.requests).toContain('GET /simple/txredisapi/ 200');
    expect(index.requests).toContain('GET /simple/txredisapi/txredisapi-1.4.11-py3-none-any.whl 200');

    // Installed as a package, with its metadata (Synapse checks it through importlib.metadata), and importable.
    const version = await lab.ssh(HOST, `python3 -c "import importlib.metadata as m; print(m.version('txredisapi'))"`);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe('1.4.11');
    const imported = await lab.ssh(HOST, 'python3 -c "import txredisapi; print(txredisapi.__name__)"');
    expect(imported.stdout.trim(), imported.stderr).toBe('txredisapi');
  });
});
