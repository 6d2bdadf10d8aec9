"""A thin client of an Aether cluster calling a *model* actor, written from
docs/wire.md alone with nats-py (a client the project did not write). Run
by model_thin_client.rs:

    python3 model_client.py <nats url> <cluster name> <shard count>

Calls `account-py1` of the published bank account model
(crates/aether-model/models/account.yaml): commands are `{"Name": body}`;
checks `ok` with events, `rejected` with the model's code and details, and
`bad-request` with the JSON pointer of a schema violation. Prints one JSON
line of what it saw; exits non-zero on any surprise.
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


def command(name, body):
    return json.dumps({name: body}).encode()


async def main():
    url, cluster, shard_count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    nc = await nats.connect(url)
    subj = subject(cluster, shard_count, "account", "account-py1")
    seen = {"shard": shard_of("account", "account-py1", shard_count)}

    # Open, then deposit: `ok` with the events as stored, stamped with the model.
    status, m = await call(nc, subj, command("Open", {"owner": "py"}), {"Aether-Cmd-Id": "py-open"})
    check(status == "ok", f"open: {status} {m.data!r}")
    status, m = await call(nc, subj, command("Deposit", {"amount": 5}), {"Aether-Cmd-Id": "py-dep-1"})
    check(status == "ok", f"deposit: {status} {m.data!r}")
    out = json.loads(m.data)
    check(out["version"] == 2 and not out["deduplicated"], out)
    ev = out["events"][0]
    check(ev["event_type"] == "Deposited" and ev["data"] == {"amount": 5}, ev)
    check(ev["metadata"]["causation_id"] == "py-dep-1", ev)
    seen["model"] = ev["metadata"]["aether.model"]

    # A retry of the same id: the recorded outcome.
    status, m = await call(nc, subj, command("Deposit", {"amount": 5}), {"Aether-Cmd-Id": "py-dep-1"})
    out = json.loads(m.data)
    check(status == "ok" and out["version"] == 2 and out["deduplicated"], out)

    # A guard: `rejected` with the model's code, message and details.
    status, m = await call(nc, subj, command("Withdraw", {"amount": 500}), {"Aether-Cmd-Id": "py-wd-1"})
    check(status == "rejected", f"withdraw: {status} {m.data!r}")
    seen["rejected"] = json.loads(m.data)

    # A schema violation: `bad-request`, with the JSON pointer of the fault.
    status, m = await call(nc, subj, command("Deposit", {"amount": "five"}), {"Aether-Cmd-Id": "py-bad-1"})
    check(status == "bad-request", f"bad deposit: {status} {m.data!r}")
    seen["bad_request"] = json.loads(m.data)["message"]
    status, m = await call(nc, subj, command("Teleport", {}), {"Aether-Cmd-Id": "py-bad-2"})
    check(status == "bad-request", f"unknown command: {status} {m.data!r}")
    seen["unknown"] = json.loads(m.data)["message"]

    # A query by name.
    status, m = await call(nc, subj, b'"Balance"', {"Aether-Kind": "query"})
    check(status == "ok", f"query: {status} {m.data!r}")
    seen["balance"] = json.loads(m.data)

    await nc.close()
    print(json.dumps(seen))


asyncio.run(main())
