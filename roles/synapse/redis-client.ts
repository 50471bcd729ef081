// Synapse reaches Redis (workers' replication) through the Python package txredisapi.
import { apt, command, q, type Resource } from 'mxplay';
import type { SynapseFlavour } from './fragment.ts';

/** txredisapi from the package index, with Debian's packages of what it needs beside it. */
export function txredisapi(f: SynapseFlavour, indexUrl: string): Resource[] {
  const host = new URL(indexUrl).hostname;
  return [
    apt({ names: ['python3-pip', 'python3-six', 'python3-twisted', 'python3-hiredis'] }),
    command({
      name: 'pip install txredisapi',
      // Synapse checks it through importlib.metadata: installed as a package, not a copied module.
      unless: `${f.python} -c 'import importlib.metadata as m; m.version("txredisapi")' 2>/dev/null`,
      cmd: `PIP_ROOT_USER_ACTION=ignore ${f.python} -m pip install --quiet --break-system-packages --no-deps --index-url ${q(indexUrl)}`
        + `${indexUrl.startsWith('http:') ? ` --trusted-host ${q(host)}` : ''} txredisapi`,
    }),
  ];
}
