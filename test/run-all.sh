#!/usr/bin/env bash
# `npm test`: type check, unit tests, then the e2e suite on real lab hosts. The e2e global setup
# installs what the lab needs on this machine (as root), builds it, and tears it down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# The type check runs beside the rest (on a fresh machine, the tools' apt installs): its verdict is
# waited for at the end, and a type error fails the run whatever the tests said.
tsc_log=$(mktemp)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -f "$tsc_log"' EXIT
npx tsc --noEmit > "$tsc_log" 2>&1 &
tsc_pid=$!
# The machine's tools the tests use (lab, OpenSSH client, Ansible to compare with): installed if missing.
npx tsx test/lab/cli.ts tools
node scripts/build.mjs   # the e2e tests run the CLI as users do: the built bundle
status=0
npx vitest run "$@" || status=$?
if ! wait "$tsc_pid"; then
  cat "$tsc_log"
  echo 'npm test: the type check (tsc --noEmit) failed' >&2
  status=1
fi
exit "$status"
