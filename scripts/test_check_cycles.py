#!/usr/bin/env python3
"""Tests of scripts/check-cycles.py on small fixture workspaces.

Run: python3 -m unittest discover -s scripts -p 'test_check_cycles.py'
"""

import importlib.util
import io
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import unittest

SCRIPT = pathlib.Path(__file__).resolve().parent / "check-cycles.py"
_spec = importlib.util.spec_from_file_location("check_cycles", SCRIPT)
cc = importlib.util.module_from_spec(_spec)
sys.modules["check_cycles"] = cc
_spec.loader.exec_module(cc)


class Fixture:
    """A throwaway workspace with one crate `a` (plus whatever files a test adds)."""

    def __init__(self, files: dict[str, str]):
        self._dir = tempfile.TemporaryDirectory()
        self.root = pathlib.Path(self._dir.name)
        self.write("Cargo.toml", '[workspace]\nmembers = ["crates/*"]\n')
        self.write("crates/a/Cargo.toml", '[package]\nname = "a"\nversion = "0.1.0"\n')
        for path, text in files.items():
            self.write(path, text)

    def write(self, path: str, text: str) -> None:
        p = self.root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))

    def run(self) -> tuple[int, str]:
        out = io.StringIO()
        n = cc.check(self.root, out=out)
        return n, out.getvalue()

    def edges(self) -> set[tuple[str, str]]:
        ws = cc.Workspace(self.root.resolve())
        for package in cc._members(ws.root):
            for crate_root in cc.crate_roots(package):
                ws.load_crate(crate_root)
        graph = cc.build_graph(ws)
        return {(ws.rel(s), ws.rel(d)) for s, ds in graph.items() for d in ds}

    def close(self) -> None:
        self._dir.cleanup()


SRC = "crates/a/src/"


class CheckCycles(unittest.TestCase):
    def fixture(self, files: dict[str, str]) -> Fixture:
        f = Fixture({SRC + k if not k.startswith("crates/") else k: v for k, v in files.items()})
        self.addCleanup(f.close)
        return f

    def test_a_clean_tree_has_no_cycle_and_exits_zero(self):
        f = self.fixture({
            "lib.rs": "mod a;\nmod b;\npub use a::A;\n",
            "a.rs": "use crate::b::B;\npub struct A(B);\n",
            "b.rs": "pub struct B;\n",
        })
        n, out = f.run()
        self.assertEqual(n, 0, out)
        self.assertIn("0 file-level import cycle(s)", out)
        proc = subprocess.run([sys.executable, str(SCRIPT), "--root", str(f.root)],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_a_two_file_cycle_is_reported_with_its_use_lines_and_exits_one(self):
        f = self.fixture({
            "lib.rs": "mod a;\nmod b;\n",
            "a.rs": "use crate::b::B;\npub struct A;\nfn f(_: B) {}\n",
            "b.rs": "use crate::a::A;\npub struct B;\nfn g(_: A) {}\n",
        })
        n, out = f.run()
        self.assertEqual(n, 1, out)
        self.assertIn("cycle 1: 2 files", out)
        self.assertIn("crates/a/src/a.rs:1: use crate::b::B", out)
        self.assertIn("crates/a/src/b.rs:1: use crate::a::A", out)
        proc = subprocess.run([sys.executable, str(SCRIPT), "--root", str(f.root)],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 1)

    def test_mod_declarations_are_not_edges(self):
        f = self.fixture({
            "lib.rs": "mod a;\npub struct Root;\n",
            "a.rs": "use crate::Root;\nfn f(_: Root) {}\n",
        })
        self.assertEqual(f.edges(), {("crates/a/src/a.rs", "crates/a/src/lib.rs")})
        self.assertEqual(f.run()[0], 0)

    def test_a_re_export_is_followed_to_the_defining_file(self):
        # `use super::Foo` where mod.rs has `pub use child::Foo` is an edge to
        # child.rs; mod.rs only re-exports, so it is in no cycle.
        f = self.fixture({
            "lib.rs": "mod m;\n",
            "m/mod.rs": "mod a;\nmod b;\npub use b::Foo;\npub use a::Bar;\n",
            "m/a.rs": "use super::Foo;\npub struct Bar(Foo);\n",
            "m/b.rs": "pub struct Foo;\n",
        })
        self.assertEqual(f.edges(), {("crates/a/src/m/a.rs", "crates/a/src/m/b.rs")})

    def test_a_cycle_through_re_exports_names_the_child_files(self):
        f = self.fixture({
            "lib.rs": "mod m;\n",
            "m/mod.rs": "mod a;\nmod b;\npub use b::*;\npub(crate) use a::Bar;\n",
            "m/a.rs": "use super::Foo;\npub struct Bar(Foo);\n",
            "m/b.rs": "pub struct Foo;\nfn f(_: super::Bar) {}\n",
        })
        n, out = f.run()
        self.assertEqual(n, 1, out)
        self.assertIn("cycle 1: 2 files\n  crates/a/src/m/a.rs\n  crates/a/src/m/b.rs\n", out)
        self.assertNotIn("m/mod.rs", out)

    def test_a_re_export_used_in_its_own_file_is_an_edge(self):
        f = self.fixture({
            "lib.rs": "mod m;\n",
            "m/mod.rs": "mod a;\npub use a::A;\npub struct B;\nfn f(_: A) {}\n",
            "m/a.rs": "use super::B;\npub struct A(B);\n",
        })
        n, out = f.run()
        self.assertEqual(n, 1, out)
        self.assertIn("crates/a/src/m/mod.rs:2: use a::A", out)

    def test_an_inline_test_module_using_super_is_no_self_edge(self):
        f = self.fixture({
            "lib.rs": "mod a;\n",
            "a.rs": """\
                pub struct A;
                #[cfg(test)]
                mod tests {
                    use super::*;
                    use super::super::a::A as Same;
                    #[test]
                    fn t() { let _ = A; }
                }
            """,
        })
        self.assertEqual(f.edges(), set())
        self.assertEqual(f.run()[0], 0)

    def test_a_test_module_in_its_own_file_is_not_a_cycle(self):
        f = self.fixture({
            "lib.rs": "mod a;\n",
            "a.rs": "pub struct A;\n#[cfg(test)]\nmod tests;\n",
            "a/tests.rs": "use super::*;\n",
        })
        self.assertEqual(f.edges(), {("crates/a/src/a/tests.rs", "crates/a/src/a.rs")})
        self.assertEqual(f.run()[0], 0)

    def test_nested_and_multi_line_use_groups(self):
        f = self.fixture({
            "lib.rs": "mod a;\nmod b;\nmod c;\nmod d;\n",
            "a.rs": """\
                use crate::{
                    b::{B, inner::{Deep}},
                    c::{self as cee},
                };
                fn f(_: B, _: Deep, _: cee::C) {}
            """,
            "b.rs": "pub struct B;\npub mod inner { pub use crate::d::Deep; }\n",
            "c.rs": "pub struct C;\n",
            "d.rs": "pub struct Deep;\n",
        })
        self.assertEqual(f.edges(), {
            ("crates/a/src/a.rs", "crates/a/src/b.rs"),
            ("crates/a/src/a.rs", "crates/a/src/c.rs"),
            ("crates/a/src/a.rs", "crates/a/src/d.rs"),
        })

    def test_qualified_paths_without_use_are_edges(self):
        f = self.fixture({
            "lib.rs": "pub mod runtime;\n",
            "runtime/mod.rs": "mod host;\nmod actor;\npub(crate) mod cluster;\n",
            "runtime/host.rs": """\
                pub struct Node;
                impl Node { pub fn new() -> Self { Node } }
                pub struct Host { r: Option<crate::runtime::cluster::Routing> }
            """,
            "runtime/actor.rs": "fn f() { let _ = super::host::Node::new(); }\n",
            "runtime/cluster/mod.rs": "mod route;\npub(crate) use route::Routing;\n",
            "runtime/cluster/route.rs": "pub struct Routing;\nfn g(_: &crate::runtime::host::Host) {}\n",
        })
        edges = f.edges()
        self.assertIn(("crates/a/src/runtime/actor.rs", "crates/a/src/runtime/host.rs"), edges)
        self.assertIn(("crates/a/src/runtime/host.rs", "crates/a/src/runtime/cluster/route.rs"),
                      edges)
        n, out = f.run()
        self.assertEqual(n, 1, out)
        self.assertIn("crates/a/src/runtime/host.rs:3: crate::runtime::cluster::Routing", out)

    def test_paths_through_module_names_are_edges(self):
        f = self.fixture({
            "lib.rs": "mod host;\nmod user;\nmod other;\nfn f() { host::Node::new(); }\n",
            "host.rs": "pub struct Node;\n",
            "user.rs": "use super::host;\nfn g() { let _ = host::Node; }\n",
            "other.rs": "use crate::host as h;\nfn g() { let _ = h::Node; }\n",
        })
        self.assertEqual(f.edges(), {
            ("crates/a/src/lib.rs", "crates/a/src/host.rs"),
            ("crates/a/src/user.rs", "crates/a/src/host.rs"),
            ("crates/a/src/other.rs", "crates/a/src/host.rs"),
        })

    def test_private_imports_are_followed_too(self):
        # A child may `use super::X` where the parent imported X privately.
        f = self.fixture({
            "lib.rs": "mod m;\nmod x;\n",
            "m/mod.rs": "mod a;\nuse crate::x::X;\nfn f(_: X) {}\n",
            "m/a.rs": "use super::X;\nfn g(_: X) {}\n",
            "x.rs": "pub struct X;\n",
        })
        self.assertIn(("crates/a/src/m/a.rs", "crates/a/src/x.rs"), f.edges())
        self.assertNotIn(("crates/a/src/m/a.rs", "crates/a/src/m/mod.rs"), f.edges())

    def test_an_associated_type_does_not_shadow_an_import(self):
        f = self.fixture({
            "lib.rs": "mod m;\nmod error;\n",
            "error.rs": "pub struct Error;\n",
            "m/mod.rs": """\
                mod a;
                use crate::error::Error;
                struct S;
                impl std::str::FromStr for S {
                    type Err = Error;
                    fn from_str(_: &str) -> Result<Self, Error> { Ok(S) }
                }
                trait T { type Error; }
            """,
            "m/a.rs": "use super::Error;\nfn g(_: Error) {}\n",
        })
        self.assertIn(("crates/a/src/m/a.rs", "crates/a/src/error.rs"), f.edges())

    def test_comments_and_strings_are_not_read(self):
        f = self.fixture({
            "lib.rs": "mod a;\nmod b;\n",
            "a.rs": """\
                //! use crate::b::B;
                /* use crate::b::B; /* nested */ crate::b::B */
                const S: &str = "use crate::b::B; crate::b::B";
                const R: &str = r#"crate::b::B "quoted" "#;
                const C: char = '"';
                fn f<'a>(x: &'a str) -> &'a str { x }
                pub struct A;
            """,
            "b.rs": "use crate::a::A;\npub struct B(A);\n",
        })
        self.assertEqual(f.edges(), {("crates/a/src/b.rs", "crates/a/src/a.rs")})

    def test_tests_examples_benches_and_path_attributes_are_read(self):
        f = self.fixture({
            "lib.rs": "pub struct L;\n",
            "crates/a/tests/t.rs": "mod support;\nuse support::S;\npub struct T;\n",
            "crates/a/tests/support/mod.rs": "pub struct S;\nfn f(_: crate::T) {}\n",
            "crates/a/examples/e.rs": '#[path = "shared/x.rs"]\nmod x;\nfn main() { x::X; }\n',
            "crates/a/examples/shared/x.rs": "pub struct X;\n",
            "crates/a/benches/b.rs": "mod common;\nfn main() { common::C; }\n",
            "crates/a/benches/common/mod.rs": "pub struct C;\n",
        })
        edges = f.edges()
        self.assertIn(("crates/a/tests/t.rs", "crates/a/tests/support/mod.rs"), edges)
        self.assertIn(("crates/a/examples/e.rs", "crates/a/examples/shared/x.rs"), edges)
        self.assertIn(("crates/a/benches/b.rs", "crates/a/benches/common/mod.rs"), edges)
        n, out = f.run()
        self.assertEqual(n, 1, out)
        self.assertIn("crates/a/tests/support/mod.rs", out)

    def test_every_component_is_reported_once_with_one_example_cycle(self):
        f = self.fixture({
            "lib.rs": "mod a;\nmod b;\nmod c;\nmod d;\nmod e;\n",
            "a.rs": "pub struct A;\nfn f(_: crate::b::B) {}\n",
            "b.rs": "pub struct B;\nfn f(_: crate::c::C) {}\n",
            "c.rs": "pub struct C;\nfn f(_: crate::a::A) {}\n",
            "d.rs": "pub struct D;\nfn f(_: crate::e::E) {}\n",
            "e.rs": "pub struct E;\nfn f(_: crate::d::D) {}\n",
        })
        n, out = f.run()
        self.assertEqual(n, 2, out)
        self.assertIn("cycle 1: 3 files", out)
        self.assertIn("e.g. crates/a/src/a.rs -> crates/a/src/b.rs -> crates/a/src/c.rs "
                      "-> crates/a/src/a.rs", out)
        self.assertIn("cycle 2: 2 files", out)


if __name__ == "__main__":
    unittest.main()
