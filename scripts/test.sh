#!/usr/bin/env bash
# Installs what the tests need, then runs every check and every test of every crate.
# This is the README's test command; .ci/run calls it. Nothing is skipped: tests that
# need nats-server fail if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "nats-server (>= 2.12)"
NATS_SERVER_BIN=$(scripts/install-nats-server.sh)
export NATS_SERVER_BIN
"$NATS_SERVER_BIN" --version

step "nats-py (the thin-client test's Python NATS client)"
python3 -c 'import nats' 2>/dev/null || python3 -m pip install --quiet nats-py
python3 -c 'import nats; print("nats-py", nats.__version__ if hasattr(nats, "__version__") else "installed")'

step "rustfmt"
cargo fmt --all -- --check

step "no file-level import cycles (scripts/check-cycles.py, and its own tests)"
python3 -m unittest discover --start-directory scripts --pattern 'test_check_cycles.py'
python3 scripts/check-cycles.py

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the benches outside the workspace (bench/*): lock files current"
# They depend on the workspace's crates by path, so a new dependency of a workspace crate
# changes their lock files too; `--locked` in their scripts would then refuse to build.
for manifest in bench/*/Cargo.toml; do
    echo "$manifest"
    cargo metadata --quiet --locked --format-version 1 --manifest-path "$manifest" >/dev/null
done

step "facade features: none, each alone (warnings are errors)"
for features in "" memory runtime memory,runtime jetstream bus cluster projection; do
    echo "aether --no-default-features ${features:+--features $features}"
    RUSTFLAGS="-D warnings" cargo check --quiet --locked -p aether --lib --no-default-features ${features:+--features "$features"}
done
# The embedded default (in-memory store + the runtime on one node) compiles no NATS
# client: what a user's build of `aether` with these features pulls in (normal edges;
# the facade's own tests use the test kit, which spawns nats-server).
if cargo tree --locked -p aether --no-default-features --features memory,runtime -e normal | grep -q "async-nats"; then
    echo "aether with memory,runtime depends on async-nats:" >&2
    cargo tree --locked -p aether --no-default-features --features memory,runtime -e normal -i async-nats >&2
    exit 1
fi
echo "aether with memory,runtime: no async-nats"

step "dependencies: licences, banned and duplicate crates (offline)"
python3 scripts/check-deps.py

step "docs (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "quickstart (the README's first command)"
cargo run --quiet --locked --example quickstart

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo test --workspace --doc --locked
    # The fault tests that run Aether nodes as OS processes with 2 s leases (the runtime's,
    # the handoff's, the model actors') and kill NATS leaders under a projection run
    # last, one at a time, with the machine to themselves.
    status=0
    serial='binary(runtime_faults) | binary(handoff_faults) | binary(model_faults) | binary(partition_faults)'
    cargo nextest run --workspace --locked --no-fail-fast -E "not ($serial)" || status=$?
    cargo nextest run --workspace --locked --no-fail-fast -E "$serial" -j 1 || status=$?
    # The runtime's fault tests again on a partitioned log (4 streams per
    # namespace): docs/guarantees.md, "The partitioned log".
    # (`--workspace`: the same features as above, so nothing is built again.)
    AETHER_TEST_PARTITIONS=4 cargo nextest run --workspace --locked --no-fail-fast \
        -E 'binary(runtime_faults)' -j 1 || status=$?
    exit $status
else
    # Test binaries run one after another; the fault tests take turns within theirs.
    status=0
    cargo test --workspace --locked --no-fail-fast || status=$?
    AETHER_TEST_PARTITIONS=4 cargo test -p aether-cluster --test runtime_faults --locked \
        --no-fail-fast || status=$?
    exit $status
fi
