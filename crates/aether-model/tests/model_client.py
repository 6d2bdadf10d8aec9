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
import os
import sys

import nats

# The wire format's shared part: crates/aether-cluster/tests/aether_wire.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "aether-cluster", "tests"))
from aether_wire import call, check, shard_of, subject  # noqa: E402


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
