#!/usr/bin/env bash
# The whole test suite, as CI runs it: types, lint, unit tests, then the privileged system suites
# (escape battery, integration) against the built CLI. Run scripts/setup.sh --test-user first
# (the README's test command does).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx prettier --check .
npx vitest run
