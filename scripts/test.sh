#!/usr/bin/env bash
# `npm test`: every test of the project, from a fresh clone. Installs what the browser and
# end-to-end tests need (Debian's Chromium; code-server from npm) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run typecheck
npm run lint
npm run build
npm run compile-tests
node dist/xpl.js check examples/*.xpt
bash scripts/ensure-chromium.sh
bash scripts/ensure-code-server.sh
node --test --test-reporter=spec --test-reporter-destination=stdout out/test/
