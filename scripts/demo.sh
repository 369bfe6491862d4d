#!/usr/bin/env bash
# Build gridkb with its web console and serve the bundled demo corpus on http://127.0.0.1:7700.
# The first start ingests corpus/ into ./data (a few seconds) and answers at once; embeddings are
# computed in the background (responses say `degraded` until then). Later starts reuse everything.
# Extra arguments go to `gridkb serve` (e.g. --addr 127.0.0.1:8080 --data /tmp/kb).
set -euo pipefail
cd "$(dirname "$0")/.."
# The default embedding model (research-only licence: see models/README.md). Without it, gridkb
# still serves lexical + graph search and says so in each response.
./scripts/fetch-model.sh || echo "demo: no embedding model; serving lexical + graph search" >&2
# The web console at / (embedded by the cargo build below). Without Node.js the API is served
# alone and / says how to build the console.
./scripts/build-console.sh || echo "demo: the web console was not built; serving the API only" >&2
cargo build --release --locked -p gridkb
exec "${CARGO_TARGET_DIR:-target}/release/gridkb" serve "$@"
