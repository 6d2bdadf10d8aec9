"""A thin client of an Aether cluster, written from docs/wire.md alone with
nats-py (a client the project did not write). Run by runtime_thin_client.rs:

    python3 thin_client.py <nats url> <cluster name> <shard count>

Calls the test kit's Counter actor `counter-py1` and checks every reply;
prints one JSON line of what it saw, exits non-zero on any surprise.
"""

import asyncio
import json
import sys

import nats
from nats.errors import NoRespondersError, TimeoutError

MASK = (1 << 64) - 1


def fnv1a64(data, h=0xCBF29CE484222325):
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def fmix64(h):
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK
    h ^= h >> 33
    return h


def shard_of(actor_type, actor_id, shard_count):
    h = fnv1a64(actor_type.encode() + b"\x00" + actor_id.encode())
    return (fmix64(h) * shard_count) >> 64


def token(s):
    out = []
    for b in s.encode():
        c = chr(b)
        if c.isascii() and (c.isalnum() or c == "-"):
            out.append(c)
        else:
            out.append("_%02X" % b)
    return "".join(out)


def subject(cluster, shard_count, actor_type, actor_id):
    shard = shard_of(actor_type, actor_id, shard_count)
    return f"aether.rt.{cluster}.s.{shard}.{token(actor_type)}.{token(actor_id)}"


async def call(nc, subj, body, headers, deadline=10.0):
    """The safe retry loop of docs/wire.md section 4."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    pause = 0.001
    while loop.time() < end:
        try:
            msg = await nc.request(subj, body, timeout=min(1.0, end - loop.time()), headers=headers)
        except NoRespondersError:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
            continue
        except TimeoutError:
            continue
        status = (msg.headers or {}).get("Aether-Status")
        if status in ("not-owner", "shutting-down"):
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
            continue
        if status == "overloaded":
            await asyncio.sleep(int(msg.headers.get("Aether-Retry-After", "10")) / 1000)
            continue
        return status, msg
    raise SystemExit(f"no final answer from {subj}")


def check(cond, what):
    if not cond:
        raise SystemExit(f"unexpected: {what}")


async def main():
    url, cluster, shard_count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    nc = await nats.connect(url)
    seen = {"shard": shard_of("counter", "counter-py1", shard_count)}
    subj = subject(cluster, shard_count, "counter", "counter-py1")

    # A command, with an id.
    status, m = await call(nc, subj, b"5", {"Aether-Kind": "cmd", "Aether-Cmd-Id": "py-1", "Aether-Corr": "from-python"})
    check(status == "ok", f"first command: {status} {m.data!r}")
    out = json.loads(m.data)
    check(out["version"] == 1 and not out["deduplicated"], out)
    ev = out["events"][0]
    check(ev["event_type"] == "Added" and ev["data"] == {"by": 5}, ev)
    check(ev["metadata"]["causation_id"] == "py-1", ev)
    check(ev["metadata"]["correlation_id"] == "from-python", ev)
    seen["writer"] = ev["metadata"]["aether.node"]
    seen["claim"] = ev["metadata"]["aether.claim"]

    # The same id again: the recorded outcome, not a second event.
    status, m = await call(nc, subj, b"5", {"Aether-Cmd-Id": "py-1"})
    out = json.loads(m.data)
    check(status == "ok" and out["version"] == 1 and out["deduplicated"], out)

    # A query.
    status, m = await call(nc, subj, b"null", {"Aether-Kind": "query"})
    check(status == "ok" and json.loads(m.data) == 5, (status, m.data))

    # A rejection, typed and explained.
    status, m = await call(nc, subj, b"0", {"Aether-Cmd-Id": "py-2"})
    check(status == "rejected", status)
    check(json.loads(m.data)["message"] == "cannot add zero", m.data)

    # Bad requests: a body that is not a command, a subject whose shard is wrong.
    status, m = await call(nc, subj, b"\"five\"", {"Aether-Cmd-Id": "py-3"})
    check(status == "bad-request", status)
    wrong = f"aether.rt.{cluster}.s.{(seen['shard'] + 1) % shard_count}.counter.counter-py1"
    try:
        m = await nc.request(wrong, b"1", timeout=2)
        check(m.headers.get("Aether-Status") == "bad-request", m.headers)
        seen["wrong_shard"] = "bad-request"
    except NoRespondersError:
        seen["wrong_shard"] = "no-responders"

    await nc.close()
    print(json.dumps(seen))


asyncio.run(main())
