#!/usr/bin/env bash
# Build the web console (console/, Vue + Element Plus + ECharts with Vite) into console/dist, which
# `cargo build` then embeds into the gridkb binary (crates/server/build.rs). Packages come from the
# npm registry at the versions in console/package-lock.json. Needs Node.js 20.19+ and npm.
set -euo pipefail
cd "$(dirname "$0")/../console"
if ! command -v npm > /dev/null; then
    echo "build-console: npm not found; install Node.js 20.19 or newer to build the web console" >&2
    exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
