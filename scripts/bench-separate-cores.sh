#!/usr/bin/env bash
# Runs `cargo bench <args>` with nats-server pinned to CPU 0 and the benchmark
# (our client and the raw async-nats baseline alike) pinned to CPU 1, so that
# the client's work does not take CPU time from the server: the layout of a
# deployment where the NATS servers run on their own machines. Needs Linux,
# `taskset` (util-linux) and at least 2 CPUs.
#
#   scripts/bench-separate-cores.sh -p aether-store-jetstream --bench jetstream
set -euo pipefail

if ! command -v taskset >/dev/null; then
  echo "bench-separate-cores: taskset (util-linux) is required" >&2
  exit 2
fi
if [ "$(nproc)" -lt 2 ]; then
  echo "bench-separate-cores: needs at least 2 CPUs, this machine has $(nproc)" >&2
  exit 2
fi
server=${NATS_SERVER_BIN:-$(command -v nats-server || true)}
if [ -z "$server" ]; then
  echo "bench-separate-cores: nats-server not found; run scripts/install-nats-server.sh" >&2
  exit 2
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '#!/bin/sh\nexec taskset -c 0 "%s" "$@"\n' "$server" >"$dir/nats-server"
chmod +x "$dir/nats-server"

# Build unpinned (faster), then run pinned.
cargo bench --no-run "$@"
NATS_SERVER_BIN="$dir/nats-server" taskset -c 1 cargo bench "$@"
