#!/usr/bin/env bash
# `npm test`: type check, unit tests, then the e2e suite on real lab hosts. The e2e global setup
# installs what the lab needs on this machine (as root), builds it, and tears it down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit
# The machine's tools the tests use (lab, OpenSSH client, Ansible to compare with): installed if missing.
npx tsx test/lab/cli.ts tools
node scripts/build.mjs   # the e2e tests run the CLI as users do: the built bundle
exec npx vitest run "$@"
