#!/usr/bin/env python3
"""CPU by goroutine label set, and the top functions, from a Go CPU profile
(pprof protobuf, gzip: what nats-server's `prof_port` serves at
`/debug/pprof/profile`). Needs no Go toolchain.

nats-server labels the goroutines that serve a stream (its internal loop,
its Raft group, its monitor) with pprof labels naming the account, the
stream and the goroutine's role; the busiest labelled set at saturation is
the serial stage that caps one stream's writes. With `--appends N` (the
appends acknowledged during the profile) each line also shows CPU µs per
append.

    python3 scripts/pprof-labels.py target/partitions-bench/units-r1.pprof.gz --appends 105000
"""

import argparse
import gzip
import sys
from collections import defaultdict


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def fields(buf):
    """(field number, wire type, value) of a protobuf message; value is an
    int for varints, bytes for length-delimited fields."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wire == 1:
            v, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wire == 5:
            v, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield num, wire, v


def packed(v, wire):
    if wire == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def parse(data):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    strings, samples, types, functions, locations = [], [], [], {}, {}
    for num, wire, v in fields(data):
        if num == 1:  # value type
            t = dict((n, x) for n, _, x in fields(v))
            types.append((t.get(1, 0), t.get(2, 0)))
        elif num == 2:  # sample
            locs, values, labels = [], [], []
            for n, w, x in fields(v):
                if n == 1:
                    locs += packed(x, w)
                elif n == 2:
                    values += packed(x, w)
                elif n == 3:
                    label = dict((a, b) for a, _, b in fields(x))
                    labels.append((label.get(1, 0), label.get(2, 0)))
            samples.append((locs, values, labels))
        elif num == 4:  # location
            loc_id, funcs = 0, []
            for n, _, x in fields(v):
                if n == 1:
                    loc_id = x
                elif n == 4:
                    line = dict((a, b) for a, _, b in fields(x))
                    funcs.append(line.get(1, 0))
            locations[loc_id] = funcs
        elif num == 5:  # function
            f = dict((n, x) for n, _, x in fields(v))
            functions[f.get(1, 0)] = f.get(2, 0)
        elif num == 6:
            strings.append(v.decode("utf-8", "replace"))
    return strings, types, samples, functions, locations


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile")
    ap.add_argument("--appends", type=float, help="appends acknowledged during the profile")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    with open(args.profile, "rb") as f:
        strings, types, samples, functions, locations = parse(f.read())
    names = [(strings[t], strings[u]) for t, u in types]
    cpu = next((i for i, (t, _) in enumerate(names) if t == "cpu"), len(names) - 1)
    total = sum(v[cpu] for _, v, _ in samples if len(v) > cpu)
    by_labels = defaultdict(int)
    by_func = defaultdict(int)
    for locs, values, labels in samples:
        ns = values[cpu] if len(values) > cpu else 0
        key = ", ".join(f"{strings[k]}={strings[v]}" for k, v in sorted(labels)) or "(no labels)"
        by_labels[key] += ns
        if locs:
            leaf = locations.get(locs[0], [])
            name = strings[functions.get(leaf[0], 0)] if leaf else "?"
            by_func[name] += ns
    per = (lambda ns: f", {ns / 1e3 / args.appends:6.2f} µs/append") if args.appends else (lambda ns: "")
    print(f"total CPU {total / 1e9:.3f} s{per(total)}")
    print("\nby goroutine labels:")
    for key, ns in sorted(by_labels.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {100 * ns / max(total, 1):5.1f}%  {ns / 1e9:7.3f} s{per(ns)}  {key}")
    print("\ntop functions (self):")
    for name, ns in sorted(by_func.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {100 * ns / max(total, 1):5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
