// npm run lab -- up [--hosts N] [--docker] | down [--all | --owner OWNER] | status | tools
// A thin shell over lab.ts: parse argv, call, print. Exit 1 with the error
// message (which carries the relevant log tail) on failure.
import { parseArgs } from 'node:util';
import { KEY_FILE, KNOWN_HOSTS_FILE, LAB_LOCK, STATE_DIR, SUBNET } from './config.ts';
import { labDown, labDownForRun, labStatus, labUp } from './lab.ts';
import { ensureControlTools } from './tools.ts';
import { sshArgv } from './ssh.ts';

const USAGE = `usage: npm run lab -- <command>
  up [--hosts N] [--docker]   tools, base rootfs, bridge, apt proxy and hosts lab1..labN (default 3);
                              hosts already up are kept as they are
  down                        stop the hosts of \`up\` and those left by test runs that died; then,
                              unless a test run still going on this machine has hosts, the apt
                              proxy and the bridge too (the base rootfs and apt cache stay
                              in ${STATE_DIR}; an unreachable route keeps
                              ${SUBNET} from leaving this machine)
    --all                     also stop the hosts of test runs that are still going
    --owner OWNER             stop only OWNER's hosts and those of runs that died; the proxy and
                              the bridge go too once no other host runs. OWNER: "cli" (the hosts
                              of \`up\`: plain \`down\`) or "run:PID" (a test run; the e2e setup's
                              cleanup after Ctrl-C runs \`down --owner run:PID\`). \`status\`
                              shows each host's owner
  status                      hosts (with their owner), apt proxy and bridge
  tools                       only install what the lab and the tests need on this machine (npm test does)

A command that has to wait for another one holding the lab lock (${LAB_LOCK})
says so after a second, naming its pid, command line and since when, and again every 30 s.`;

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      hosts: { type: 'string' },
      docker: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      // `down --owner run:PID`: the e2e global setup's cleanup after an interrupt, only that run.
      owner: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command || rest.length) {
    console.log(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  switch (command) {
    case 'up': {
      const t0 = performance.now();
      const hosts = values.hosts === undefined ? undefined : Number(values.hosts);
      const { started, alreadyUp } = await labUp({ hosts, docker: values.docker });
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      const all = (await labStatus()).hosts.filter((h) => h.up);
      console.log(`\nlab up in ${seconds} s (${started.length} started, ${alreadyUp.length} already up)`);
      for (const h of all) console.log(`  ${h.name.padEnd(8)} ${h.ip.padEnd(13)} ${h.docker ? 'docker' : ''}`);
      const first = all[0];
      console.log(`
Run a playbook against it:
  npx mxplay run site.yml -i lab
(or \`npm start\`: that run, then checks of what answers where)
(inventory/lab/hosts.yml lists lab1..lab3; key ${KEY_FILE}, known hosts ${KNOWN_HOSTS_FILE})
${first ? `Log in:\n  ${sshArgv(first.ip).join(' ')}\n` : ''}Stop everything:
  npm run lab -- down`);
      return;
    }
    case 'tools': {
      await ensureControlTools();
      return;
    }
    case 'down': {
      if (values.all && values.owner) {
        console.error(`down: --all and --owner exclude each other\n${USAGE}`);
        process.exitCode = 2;
        return;
      }
      const t0 = performance.now();
      const { kept } = values.owner ? await labDownForRun(values.owner) : await labDown({ all: values.all });
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      if (kept.length) {
        console.log(`lab down in ${seconds} s, except what test runs still going use:`);
        for (const h of kept) console.log(`  ${h.name.padEnd(8)} ${h.ip.padEnd(13)} owner ${h.owner}`);
        console.log('(with the bridge and the apt proxy; their run stops them, or `npm run lab -- down --all` now)');
      } else {
        console.log(`lab down in ${seconds} s (kept: base rootfs and apt cache in ${STATE_DIR})`);
      }
      return;
    }
    case 'status': {
      const s = await labStatus();
      if (values.json) {
        console.log(JSON.stringify(s, null, 2));
        return;
      }
      console.log(`bridge  ${s.bridge.name}: ${s.bridge.exists ? s.bridge.addresses.join(' ') || 'no address' : 'absent'}`);
      console.log(`guard   ${SUBNET}: ${s.subnetGuard ? 'unreachable unless the bridge is up' : 'no guard route (made by `up`)'}`);
      console.log(
        `proxy   ${s.proxy.url}: ${s.proxy.running ? `running (pid ${s.proxy.pid})` : 'not running'}${s.proxy.answering ? ', answering' : ''}`,
      );
      if (s.hosts.length === 0) console.log('hosts   none');
      for (const h of s.hosts) {
        const state = h.up
          ? `up (pid ${h.pid})${h.sshPort ? ', ssh answering' : ', ssh not answering'}`
          : h.leftoverProcesses
            ? `down, but ${h.leftoverProcesses} of its processes run on without nspawn: \`up\` or \`down\` ends them`
            : 'down';
        console.log(`host    ${h.name.padEnd(8)} ${h.ip.padEnd(13)} ${state}${h.docker ? ', docker' : ''}, owner ${h.owner}`);
      }
      return;
    }
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`lab: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
