#!/usr/bin/env python3
"""File-level import cycles in the workspace's Rust sources.

Builds a graph whose nodes are `.rs` files and whose edges are "this file
uses something another file defines", then reports every strongly connected
component of two or more files and exits 1 if there is one (0 if none, 2 on
bad usage). Python 3.11, standard library only.

What is read:
- every crate target of every workspace member (from the root Cargo.toml):
  the library, binaries, tests, benches and examples, found the way Cargo
  finds them (`src/lib.rs`, `src/main.rs`, `src/bin/*`, `tests/*`,
  `benches/*`, `examples/*`) plus explicit `[lib]`/`[[bin]]`/`[[test]]`/
  `[[bench]]`/`[[example]]` paths; the module tree is followed from each
  target's root through `mod x;` declarations (with `#[path = ...]`) and
  inline `mod x { ... }` blocks.

What is an edge:
- a `use` item (also nested and multi-line groups, `use a::{b::{c, d}, e}`)
  whose path starts at `crate`, `self`, `super` or a name in scope (a child
  module, an item, another import), resolved to the file that *defines* the
  item: imports and re-exports (`pub use child::Foo`, globs included) are
  followed, so `use super::Foo` where `mod.rs` has `pub use child::Foo` is an
  edge to `child.rs`;
- a qualified path used in code without a `use`, such as
  `super::host::Node::new(..)` or `crate::runtime::cluster::Routing`, or one
  that goes through a module name in scope (`host::Node` after `mod host;`
  or `use super::host;`);
- a glob import (`use super::*`) is an edge to the module's file.

What is not an edge:
- `mod x;` declarations;
- a `pub use` that only re-exports (its name is not used in the file);
- anything inside one file (an inline `mod tests { use super::*; }`);
- paths into other crates (a crate graph has no cycles, so no file cycle can
  run through another crate).

Not seen (there is no type analysis): a method call on a value whose type is
defined elsewhere, and an `impl` block in one file for a type of another;
items made by macros.

Usage: scripts/check-cycles.py [--root DIR]   (default: the repository root)
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import pathlib
import re
import sys
import tomllib
from collections import defaultdict

# --------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tok:
    kind: str  # "id", "str", "punct", "life", "num"
    text: str
    line: int


_IDENT = re.compile(r"(?:r#)?[A-Za-z_][A-Za-z0-9_]*")
_NUM = re.compile(r"[0-9][0-9A-Za-z_.]*")
_RAW_STR = re.compile(r'(?:br|cr|r)(#*)"')
_PUNCT2 = ("::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "..")


def tokenize(src: str) -> list[Tok]:
    """A Rust tokenizer good enough for paths: comments are dropped, string
    and char literals become one token each (strings keep their value)."""
    toks: list[Tok] = []
    i, n, line = 0, len(src), 1
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += src[i] == "\n"
                    i += 1
        elif (m := _RAW_STR.match(src, i)) is not None:
            close = '"' + m.group(1)
            j = src.find(close, m.end())
            j = n if j < 0 else j
            body = src[m.end():j]
            toks.append(Tok("str", body, line))
            line += body.count("\n")
            i = j + len(close)
        elif c == '"' or (c in "bc" and src.startswith('"', i + 1)):
            start_line = line
            i = i + 1 if c == '"' else i + 2
            buf = []
            while i < n and src[i] != '"':
                if src[i] == "\\" and i + 1 < n:
                    buf.append(src[i:i + 2])
                    line += src[i + 1] == "\n"
                    i += 2
                    continue
                line += src[i] == "\n"
                buf.append(src[i])
                i += 1
            toks.append(Tok("str", "".join(buf), start_line))
            i += 1
        elif c == "'" or (c == "b" and src.startswith("'", i + 1)):
            k = i + 1 if c == "'" else i + 2
            if k < n and src[k] == "\\":  # escaped char literal
                j = src.find("'", k + 2)
                j = n if j < 0 else j
                toks.append(Tok("str", src[k:j], line))
                i = j + 1
            elif k + 1 < n and src[k + 1] == "'":  # 'a'
                toks.append(Tok("str", src[k], line))
                i = k + 2
            elif (m := _IDENT.match(src, k)) is not None:  # lifetime or label
                toks.append(Tok("life", "'" + m.group(0), line))
                i = m.end()
            else:  # a non-ASCII char literal or a stray quote
                j = src.find("'", k + 1)
                if 0 <= j - k <= 4:
                    toks.append(Tok("str", src[k:j], line))
                    i = j + 1
                else:
                    toks.append(Tok("punct", "'", line))
                    i += 1
        elif (m := _IDENT.match(src, i)) is not None:
            text = m.group(0)
            toks.append(Tok("id", text[2:] if text.startswith("r#") else text, line))
            i = m.end()
        elif (m := _NUM.match(src, i)) is not None:
            toks.append(Tok("num", m.group(0), line))
            i = m.end()
        else:
            two = src[i:i + 2]
            if two in _PUNCT2:
                toks.append(Tok("punct", two, line))
                i += 2
            else:
                toks.append(Tok("punct", c, line))
                i += 1
    return toks


# --------------------------------------------------------------------------
# One file's syntax: modules, items, imports, qualified paths
# --------------------------------------------------------------------------

ITEM_KEYWORDS = {"struct", "enum", "union", "trait", "type", "fn", "static", "const"}
KEYWORDS = {
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else",
    "enum", "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop",
    "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
    "where", "while", "_",
}
PATH_ROOTS = {"crate", "self", "super"}


@dataclasses.dataclass
class UseLeaf:
    path: list[str]  # full path, e.g. ["super", "host", "Node"]
    alias: str | None  # the name it binds ("_" binds none); None for a glob
    glob: bool
    public: bool
    line: int
    external: bool = False  # `use ::foo::...`
    local: bool = False  # inside a function or impl body: binds nothing for other modules


@dataclasses.dataclass
class QualPath:
    path: list[str]
    line: int


@dataclasses.dataclass
class ModSyntax:
    """One module's body as written in one file (a file, or an inline block)."""

    name: str
    inline_dirs: list[str]  # inline module names from the file's module down to here
    items: dict[str, list[tuple[str, int]]] = dataclasses.field(
        default_factory=lambda: defaultdict(list))
    mod_decls: list[tuple[str, str | None, int]] = dataclasses.field(default_factory=list)
    inline: dict[str, "ModSyntax"] = dataclasses.field(default_factory=dict)
    uses: list[UseLeaf] = dataclasses.field(default_factory=list)
    paths: list[QualPath] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class FileSyntax:
    top: ModSyntax
    idents_outside_use: set[str]


def _is_ident(t: Tok) -> bool:
    return t.kind == "id"


def _match_back(toks: list[Tok], j: int, close: str, open_: str) -> int:
    """Index of the token opening the group that closes at `j`."""
    depth = 0
    while j >= 0:
        if toks[j].text == close and toks[j].kind == "punct":
            depth += 1
        elif toks[j].text == open_ and toks[j].kind == "punct":
            depth -= 1
            if depth == 0:
                return j
        j -= 1
    return -1


def _prefix(toks: list[Tok], i: int) -> tuple[bool, str | None]:
    """Looks back from the keyword at `i` over visibility and attributes:
    (is it `pub`, the `#[path = "..."]` value if any)."""
    public, path_attr = False, None
    j = i - 1
    while j >= 0:
        t = toks[j]
        if t.kind == "id" and t.text == "pub":
            public = True
            j -= 1
        elif t.kind == "punct" and t.text == ")" and j > 0:
            k = _match_back(toks, j, ")", "(")
            if k > 0 and toks[k - 1].text == "pub":
                public = True
                j = k - 2
            else:
                break
        elif t.kind == "punct" and t.text == "]":
            k = _match_back(toks, j, "]", "[")
            if k <= 0:
                break
            h = k - 1
            if toks[h].text == "!":
                h -= 1
            if toks[h].text != "#":
                break
            inner = toks[k + 1:j]
            if (len(inner) == 3 and inner[0].text == "path" and inner[1].text == "="
                    and inner[2].kind == "str"):
                path_attr = inner[2].text
            j = h - 1
        elif t.kind == "id" and t.text in ("unsafe", "async", "extern", "default"):
            j -= 1
        elif t.kind == "str" and j > 0 and toks[j - 1].text == "extern":
            j -= 1
        else:
            break
    return public, path_attr


def _parse_use_tree(toks: list[Tok], i: int, prefix: list[str], public: bool,
                    external: bool, out: list[UseLeaf]) -> int:
    """Parses one use tree starting at `i`; returns the index after it."""
    path = list(prefix)
    if toks[i].text == "::":
        if not prefix:
            external = True
        i += 1
    while True:
        t = toks[i]
        if t.text == "{":
            i += 1
            while toks[i].text != "}":
                i = _parse_use_tree(toks, i, path, public, external, out)
                if toks[i].text == ",":
                    i += 1
            return i + 1
        if t.text == "*":
            out.append(UseLeaf(path, None, True, public, t.line, external))
            return i + 1
        if _is_ident(t):
            line = t.line
            if t.text == "self" and path and not (i + 1 < len(toks) and toks[i + 1].text == "::"):
                name = path[-1]  # `a::{self}` binds `a`
            else:
                path.append(t.text)
                name = t.text
            i += 1
            if toks[i].text == "::":
                i += 1
                continue
            if toks[i].text == "as":
                name = toks[i + 1].text
                i += 2
            out.append(UseLeaf(path, name, False, public, line, external))
            return i
        return i + 1  # something unexpected: skip a token


def parse_file(src: str) -> FileSyntax:
    toks = tokenize(src)
    top = ModSyntax("", [])
    stack: list[tuple[ModSyntax, int]] = [(top, -1)]  # (module, brace depth it opened at)
    depth = 0
    used_idents: set[str] = set()
    n = len(toks)
    i = 0
    while i < n:
        t = toks[i]
        mod = stack[-1][0]
        nxt = toks[i + 1] if i + 1 < n else None
        if t.kind == "punct":
            if t.text == "{":
                depth += 1
            elif t.text == "}":
                depth -= 1
                if len(stack) > 1 and depth == stack[-1][1]:
                    stack.pop()
            i += 1
            continue
        if t.kind != "id":
            i += 1
            continue
        prev = toks[i - 1] if i > 0 else None
        after_colons = prev is not None and prev.text == "::"
        at_module_level = depth == stack[-1][1] + 1
        if t.text == "use" and not after_colons:
            public, _ = _prefix(toks, i)
            leaves: list[UseLeaf] = []
            j = i + 1
            while j < n and toks[j].text != ";":
                j = _parse_use_tree(toks, j, [], public, False, leaves)
                if j < n and toks[j].text == ",":
                    j += 1
            for leaf in leaves:
                leaf.local = not at_module_level
            mod.uses.extend(leaves)
            i = j + 1
            continue
        if (t.text == "mod" and nxt is not None and _is_ident(nxt) and i + 2 < n
                and not after_colons and at_module_level):
            after = toks[i + 2].text
            if after == ";":
                _, path_attr = _prefix(toks, i)
                mod.mod_decls.append((nxt.text, path_attr, t.line))
                i += 3
                continue
            if after == "{":
                child = ModSyntax(nxt.text, mod.inline_dirs + [nxt.text])
                mod.inline[nxt.text] = child
                mod.items[nxt.text].append(("mod", t.line))
                stack.append((child, depth))
                depth += 1
                i += 3
                continue
        if (t.text in ITEM_KEYWORDS and nxt is not None and _is_ident(nxt)
                and nxt.text not in KEYWORDS and not after_colons and at_module_level):
            if t.text != "union" or (i + 2 < n and toks[i + 2].text in ("{", "<")):
                mod.items[nxt.text].append((t.text, nxt.line))
                i += 2
                continue
        if (t.text == "macro_rules" and nxt is not None and nxt.text == "!"
                and i + 2 < n and _is_ident(toks[i + 2]) and at_module_level):
            mod.items[toks[i + 2].text].append(("macro", t.line))
            i += 3
            continue
        # A qualified path: `a::b::c` not preceded by `::` (so its start).
        if not after_colons and nxt is not None and nxt.text == "::":
            seg = [("crate" if t.text == "crate" and prev is not None and prev.text == "$"
                    else t.text)]
            j = i + 1
            while j + 1 < n and toks[j].text == "::" and _is_ident(toks[j + 1]):
                seg.append(toks[j + 1].text)
                j += 2
            if len(seg) >= 2:
                mod.paths.append(QualPath(seg, t.line))
            used_idents.update(seg)
            i = j
            continue
        used_idents.add(t.text)
        i += 1
    return FileSyntax(top, used_idents)


# --------------------------------------------------------------------------
# Module trees and name resolution
# --------------------------------------------------------------------------


class Module:
    def __init__(self, name: str, parent: "Module | None", file: pathlib.Path,
                 syntax: ModSyntax):
        self.name = name
        self.parent = parent
        self.root: Module = parent.root if parent else self
        self.file = file
        self.syntax = syntax
        self.children: dict[str, Module] = {}

    def __repr__(self) -> str:
        return f"Module({self.name} in {self.file})"


@dataclasses.dataclass(frozen=True)
class ItemTarget:
    file: pathlib.Path
    name: str


class Workspace:
    def __init__(self, root: pathlib.Path):
        self.root = root
        self.files: dict[pathlib.Path, FileSyntax] = {}
        self.modules: list[Module] = []
        self.problems: list[str] = []

    def syntax(self, path: pathlib.Path) -> FileSyntax:
        if path not in self.files:
            self.files[path] = parse_file(path.read_text(encoding="utf-8"))
        return self.files[path]

    # -- loading ------------------------------------------------------------

    def load_crate(self, root_file: pathlib.Path) -> None:
        self._load(root_file, "crate", None, mod_rs=True, seen=set())

    def _load(self, file: pathlib.Path, name: str, parent: Module | None,
              mod_rs: bool, seen: set[pathlib.Path]) -> Module:
        top = self.syntax(file).top
        module = Module(name, parent, file, top)
        self.modules.append(module)
        self._instantiate(module, file, top, mod_rs, seen | {file})
        return module

    def _instantiate(self, module: Module, file: pathlib.Path, syn: ModSyntax,
                     mod_rs: bool, seen: set[pathlib.Path]) -> None:
        base = file.parent if mod_rs else file.parent / file.stem
        for name, path_attr, line in syn.mod_decls:
            if path_attr is not None:
                dir_ = file.parent.joinpath(*syn.inline_dirs) if syn.inline_dirs else file.parent
                candidates = [dir_ / path_attr]
            else:
                dir_ = base.joinpath(*syn.inline_dirs)
                candidates = [dir_ / f"{name}.rs", dir_ / name / "mod.rs"]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                self.problems.append(f"{self.rel(file)}:{line}: no file for `mod {name};`")
                continue
            found = found.resolve()
            if found in seen:
                continue
            child_mod_rs = found.name == "mod.rs" or path_attr is not None
            module.children[name] = self._load(found, name, module, child_mod_rs, seen)
        for name, child_syn in syn.inline.items():
            child = Module(name, module, file, child_syn)
            self.modules.append(child)
            module.children[name] = child
            self._instantiate(child, file, child_syn, mod_rs, seen)

    # -- resolution ---------------------------------------------------------

    def lookup(self, module: Module, name: str, visiting: set) -> list:
        """What `name` means in `module`: its child module, its items, or
        what its imports bind to (explicit first, then globs)."""
        key = (id(module), name)
        if key in visiting:
            return []
        visiting = visiting | {key}
        found: list = []
        if name in module.children:
            found.append(module.children[name])
        for kind, _line in module.syntax.items.get(name, []):
            if kind != "mod":
                found.append(ItemTarget(module.file, name))
                break
        if found:
            return found
        for leaf in module.syntax.uses:
            if not leaf.glob and leaf.alias == name and not leaf.external and not leaf.local:
                found.extend(self.resolve(module, leaf.path, visiting))
        if found:
            return found
        for leaf in module.syntax.uses:
            if leaf.glob and not leaf.external and not leaf.local:
                for target in self.resolve(module, leaf.path, visiting):
                    if isinstance(target, Module):
                        found.extend(self.lookup(target, name, visiting))
        return found

    def resolve(self, module: Module, path: list[str], visiting: set = frozenset()) -> list:
        """The deepest point `path` reaches from `module`: a module, or an
        item (a path through an item, `Kind::Variant`, stops at the item).
        Empty if the path leaves the crate or is not understood."""
        if not path:
            return [module]
        first = path[0]
        if first == "crate":
            current: list = [module.root]
        elif first == "self":
            current = [module]
        elif first == "super":
            current = [module.parent] if module.parent else []
        elif first == "Self":
            return []
        else:
            current = self.lookup(module, first, set(visiting))
        for seg in path[1:]:
            nxt: list = []
            for target in current:
                if isinstance(target, ItemTarget):
                    nxt.append(target)
                elif seg == "super":
                    if target.parent:
                        nxt.append(target.parent)
                elif seg == "self":
                    nxt.append(target)
                else:
                    hit = self.lookup(target, seg, set(visiting))
                    nxt.extend(hit if hit else [target])
            current = _dedupe(nxt)
        return current

    def rel(self, path: pathlib.Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def _dedupe(targets: list) -> list:
    seen, out = set(), []
    for t in targets:
        k = id(t) if isinstance(t, Module) else t
        if k not in seen:
            seen.add(k)
            out.append(t)
    return out


# --------------------------------------------------------------------------
# Crate targets
# --------------------------------------------------------------------------


def _members(root: pathlib.Path) -> list[pathlib.Path]:
    manifest = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))
    ws = manifest.get("workspace", {})
    exclude = {(root / e).resolve() for e in ws.get("exclude", [])}
    dirs: list[pathlib.Path] = []
    if "package" in manifest:
        dirs.append(root.resolve())
    for pattern in ws.get("members", []):
        for d in sorted(glob.glob(str(root / pattern))):
            p = pathlib.Path(d).resolve()
            if (p / "Cargo.toml").is_file() and p not in exclude and p not in dirs:
                dirs.append(p)
    return dirs


def crate_roots(package: pathlib.Path) -> list[pathlib.Path]:
    """Every target root of one package, the way Cargo discovers them."""
    manifest = tomllib.loads((package / "Cargo.toml").read_text(encoding="utf-8"))
    roots: list[pathlib.Path] = []
    lib = manifest.get("lib", {}).get("path")
    roots.append(package / (lib or "src/lib.rs"))
    roots.append(package / "src/main.rs")
    for pattern in ("src/bin/*.rs", "src/bin/*/main.rs", "tests/*.rs", "tests/*/main.rs",
                    "benches/*.rs", "benches/*/main.rs", "examples/*.rs",
                    "examples/*/main.rs"):
        roots.extend(sorted(package.glob(pattern)))
    for section in ("bin", "test", "bench", "example"):
        for target in manifest.get(section, []):
            if "path" in target:
                roots.append(package / target["path"])
    out: list[pathlib.Path] = []
    for r in roots:
        r = r.resolve()
        if r.is_file() and r not in out:
            out.append(r)
    return out


# --------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Evidence:
    line: int
    text: str


def build_graph(ws: Workspace) -> dict[pathlib.Path, dict[pathlib.Path, Evidence]]:
    edges: dict[pathlib.Path, dict[pathlib.Path, Evidence]] = defaultdict(dict)

    def add(src: pathlib.Path, targets: list, ev: Evidence) -> None:
        for t in targets:
            dst = t.file
            if dst != src and dst not in edges[src]:
                edges[src][dst] = ev

    for module in ws.modules:
        syn, file = module.syntax, module.file
        used = ws.files[file].idents_outside_use
        for leaf in syn.uses:
            if leaf.external:
                continue
            text = "use " + "::".join(leaf.path) + ("::*" if leaf.glob else "")
            if leaf.alias and leaf.path and leaf.alias != leaf.path[-1]:
                text += f" as {leaf.alias}"
            if leaf.public and (leaf.glob or leaf.alias not in used):
                continue  # a re-export only: structure, like `mod x;`
            targets = ws.resolve(module, leaf.path)
            if not leaf.glob:
                # Importing a module is not yet a dependency on its file: the
                # qualified paths through it (`host::Node`) are.
                targets = [t for t in targets if not isinstance(t, Module)]
            add(file, targets, Evidence(leaf.line, text))
        for qp in syn.paths:
            first = qp.path[0]
            if first not in PATH_ROOTS:
                head = ws.lookup(module, first, set())
                if not any(isinstance(t, Module) for t in head):
                    continue  # `Type::method`, an external crate, a generic
            targets = ws.resolve(module, qp.path)
            add(file, targets, Evidence(qp.line, "::".join(qp.path)))
    return edges


def strongly_connected(nodes: list, edges: dict) -> list[list]:
    """Tarjan's algorithm, iterative."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    out: list[list] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def shortest_cycle(comp: list, edges: dict) -> list:
    """One shortest cycle through the component's first file (BFS)."""
    members = set(comp)
    start = comp[0]
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [start]


def check(root: pathlib.Path, out=sys.stdout) -> int:
    """Prints every cycle under `root`; returns how many were found."""
    root = root.resolve()
    ws = Workspace(root)
    for package in _members(root):
        for crate_root in crate_roots(package):
            ws.load_crate(crate_root)
    for problem in ws.problems:
        print(f"warning: {problem}", file=sys.stderr)
    edges = build_graph(ws)
    nodes = sorted(ws.files)
    cycles = [c for c in strongly_connected(nodes, edges) if len(c) > 1]
    cycles.sort(key=lambda c: (-len(c), c))
    for k, comp in enumerate(cycles, 1):
        print(f"cycle {k}: {len(comp)} files", file=out)
        for f in comp:
            print(f"  {ws.rel(f)}", file=out)
        print("  e.g. " + " -> ".join(ws.rel(f) for f in shortest_cycle(comp, edges)), file=out)
        print("  edges:", file=out)
        members = set(comp)
        for src in comp:
            for dst, ev in sorted(edges.get(src, {}).items()):
                if dst in members:
                    print(f"    {ws.rel(src)} -> {ws.rel(dst)}", file=out)
                    print(f"        {ws.rel(src)}:{ev.line}: {ev.text}", file=out)
        print(file=out)
    print(f"{len(cycles)} file-level import cycle(s) in {len(nodes)} files", file=out)
    return len(cycles)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent,
                        help="the workspace root (holds Cargo.toml)")
    args = parser.parse_args(argv)
    if not (args.root / "Cargo.toml").is_file():
        print(f"error: no Cargo.toml in {args.root}", file=sys.stderr)
        return 2
    return 1 if check(args.root) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
