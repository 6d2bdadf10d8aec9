"""The wire format of docs/wire.md for a Python caller, written from that page
alone with nats-py (a client the project did not write): the shard of an
actor, its subject, and the safe retry loop. Imported by thin_client.py and
by crates/aether-model/tests/model_client.py.
"""

import asyncio

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
