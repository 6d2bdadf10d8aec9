#!/usr/bin/env python3
"""Dependency hygiene, offline: every crate's licence must be one we may
ship under MIT OR Apache-2.0, no banned crate may appear, and no crate may
appear in two versions unless listed in scripts/deps-duplicates.txt.

Reads `cargo metadata --locked` (the lockfile's packages, all platforms);
exits non-zero with one line per problem."""

import json
import pathlib
import re
import subprocess
import sys

ALLOWED = {
    "MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-1-Clause",
    "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib", "Unicode-3.0",
    "Unicode-DFS-2016", "CC0-1.0", "Unlicense", "0BSD", "BSL-1.0",
    "CDLA-Permissive-2.0", "MIT-0",
}
# TLS goes through rustls; OpenSSL would add a system dependency and a
# second TLS stack.
BANNED = {"openssl", "openssl-sys", "native-tls"}


def acceptable(expr: str) -> bool:
    """An SPDX expression (also the old `A/B` form) is acceptable if one of
    its OR alternatives has only allowed licences."""
    expr = expr.replace("/", " OR ").strip()
    # Top-level OR split, respecting parentheses.
    depth, start, parts = 0, 0, []
    for m in re.finditer(r"\(|\)|\bOR\b", expr):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0:
            parts.append(expr[start:m.start()])
            start = m.end()
    parts.append(expr[start:])
    for part in parts:
        part = part.strip()
        if part.startswith("(") and part.endswith(")"):
            if acceptable(part[1:-1]):
                return True
            continue
        terms = [t.strip().strip("()") for t in re.split(r"\bAND\b", part)]
        if all(t in ALLOWED or (t.startswith("(") and acceptable(t)) for t in terms):
            return True
        # An AND of parenthesised ORs.
        if all(acceptable(t) if (" OR " in t) else t in ALLOWED for t in terms):
            return True
    return False


def self_check() -> None:
    """The licence rule on known cases, every run."""
    for ok in ["MIT", "MIT OR Apache-2.0", "MIT/Apache-2.0", "(MIT OR Apache-2.0) AND Unicode-3.0",
               "Apache-2.0 AND ISC", "MIT OR Apache-2.0 OR LGPL-2.1-or-later",
               "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"]:
        assert acceptable(ok), ok
    for bad in ["GPL-3.0", "LGPL-2.1-or-later", "MIT AND GPL-2.0", "AGPL-3.0 OR SSPL-1.0", "Proprietary"]:
        assert not acceptable(bad), bad


def main() -> int:
    self_check()
    root = pathlib.Path(__file__).resolve().parent.parent
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=root, check=True, capture_output=True, text=True).stdout)
    ours = set(meta["workspace_members"])
    problems = []
    versions = {}
    for p in meta["packages"]:
        if p["id"] in ours:
            continue
        name, lic = p["name"], p.get("license")
        versions.setdefault(name, set()).add(p["version"])
        if name in BANNED:
            problems.append(f"banned crate: {name} {p['version']}")
        if not lic:
            problems.append(f"no licence declared: {name} {p['version']}")
        elif not acceptable(lic):
            problems.append(f"licence not allowed: {name} {p['version']}: {lic}")
    allowed_dups = set()
    listed = root / "scripts" / "deps-duplicates.txt"
    if listed.exists():
        allowed_dups = {l.split("#")[0].strip() for l in listed.read_text().splitlines()} - {""}
    for name, vs in sorted(versions.items()):
        if len(vs) > 1 and name not in allowed_dups:
            problems.append(
                f"duplicate crate: {name} in versions {', '.join(sorted(vs))} "
                "(unify them, or list the crate in scripts/deps-duplicates.txt with the reason)")
    for line in problems:
        print(line)
    count = sum(1 for p in meta["packages"] if p["id"] not in ours)
    print(f"checked {count} crates: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
