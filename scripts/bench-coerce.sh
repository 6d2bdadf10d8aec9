#!/usr/bin/env bash
# Runs bench/coerce: Aether's actor runtime beside coerce 0.8.11 (persistent
# actors, remote actors over TCP) and the raw floors, issue #23's scenarios,
# in one process with rounds interleaved. Installs nats-server and Debian's
# redis-server (apt-get) when missing; the bench starts both itself (random
# ports, temp dirs) and kills them at the end.
# Env: BENCH_ROUNDS (default 5), BENCH_ONLY=1,2,7 (scenario numbers),
# BENCH_SIDES=Aether,raw (only those sides, to profile one),
# BENCH_SCALE=small (tiny sizes: a smoke run), BENCH_FSYNC=always (fsync on
# every write on both stores instead of once a second), BENCH_MALLOC=jemalloc
# (the bench's whole process, Aether, coerce and the raw floors alike, on
# jemalloc instead of glibc's malloc: LD_PRELOAD of Debian's libjemalloc2,
# installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER_BIN=$(scripts/install-nats-server.sh)
export NATS_SERVER_BIN

if [ -z "${REDIS_SERVER_BIN:-}" ]; then
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "installing redis-server (apt-get)" >&2
        sudo_cmd=""
        [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends redis-server >&2
        # The package starts a system-wide server; the bench runs its own.
        if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
            $sudo_cmd systemctl stop redis-server || true
        fi
    fi
    REDIS_SERVER_BIN=$(command -v redis-server)
fi
export REDIS_SERVER_BIN

preload=""
case "${BENCH_MALLOC:-system}" in
    system | jemalloc) ;;
    *) echo "BENCH_MALLOC must be system or jemalloc, not ${BENCH_MALLOC}" >&2; exit 2 ;;
esac
if [ "${BENCH_MALLOC:-system}" = jemalloc ]; then
    jemalloc() { ldconfig -p | awk '/libjemalloc\.so\.2 / { print $NF; exit }'; }
    if [ -z "$(jemalloc)" ]; then
        echo "installing libjemalloc2 (apt-get)" >&2
        sudo_cmd=""
        [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends libjemalloc2 >&2
    fi
    preload=$(jemalloc)
    [ -n "$preload" ] || { echo "BENCH_MALLOC=jemalloc: libjemalloc.so.2 not found" >&2; exit 1; }
fi

cd bench/coerce
# Beside the workspace's own build, not inside the bench directory.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-../../target/coerce}
cargo build --release --locked
LD_PRELOAD=$preload exec "$CARGO_TARGET_DIR/release/aether-coerce-bench"
