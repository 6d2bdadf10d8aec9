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
from nats.errors import NoRespondersError

from aether_wire import call, check, shard_of, subject


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
