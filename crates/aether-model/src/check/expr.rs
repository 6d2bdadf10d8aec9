//! Checks one expression: syntax, variables and paths against the
//! schemas, functions, the static cost bound, determinism in folds, and
//! its type where derivable.

use super::shape::{Field, Shape};
use super::suggest::hint;
use super::types::{FUNCTIONS, NONDETERMINISTIC, Ty};
use crate::error::ModelError;
use crate::expr::{self, BinOp, Expr, Kind, Lit, Node, position_of};

/// Most AST nodes in one expression (after macro expansion).
pub(crate) const MAX_NODES: usize = 1000;
/// Deepest macro (comprehension) nesting.
pub(crate) const MAX_COMPREHENSION_NESTING: usize = 2;

/// Every variable name an expression can use somewhere.
const ROOTS: &[&str] = &["state", "command", "event", "actor", "meta", "model"];

/// What the expression must evaluate to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Bool,
    Map,
    String,
    Any,
}

/// Where an expression sits: the variables it may read, with their shapes.
pub(crate) struct ExprCtx<'a> {
    pub(crate) vars: Vec<(&'static str, Shape<'a>)>,
    /// A fold or upcaster: the determinism rules apply.
    pub(crate) fold: bool,
    pub(crate) expect: Expect,
}

/// Compiles and checks `source` (at `path`); pushes every problem to `errors`.
pub(crate) fn check_expr(
    source: &str,
    path: &str,
    ctx: &ExprCtx<'_>,
    errors: &mut Vec<ModelError>,
) -> Option<Expr> {
    let compiled = match expr::compile(source) {
        Ok(e) => e,
        Err(e) => {
            errors.push(ModelError::new(path, e.message).at(e.position));
            return None;
        }
    };
    let before = errors.len();
    let mut nodes = 0usize;
    compiled.tree.walk(0, &mut |_, _| nodes += 1);
    if nodes > MAX_NODES {
        errors.push(ModelError::new(
            path,
            format!(
                "cost bound: {nodes} syntax nodes after macro expansion, more than {MAX_NODES}"
            ),
        ));
    } else {
        let mut c = Checker {
            source,
            path,
            ctx,
            errors,
            locals: Vec::new(),
        };
        let info = c.visit(&compiled.tree, 0);
        let wrong = match ctx.expect {
            Expect::Bool => !matches!(info.ty, Ty::Bool | Ty::Unknown),
            Expect::Map => !matches!(info.ty, Ty::Map | Ty::Unknown),
            Expect::String => !matches!(info.ty, Ty::String | Ty::Unknown),
            Expect::Any => false,
        };
        if wrong {
            let want = match ctx.expect {
                Expect::Bool => "a bool",
                Expect::Map => "a map",
                _ => "a string",
            };
            c.error(
                &compiled.tree,
                format!("must evaluate to {want}, but this is a {}", info.ty.name()),
            );
        }
    }
    (errors.len() == before).then_some(compiled)
}

#[derive(Clone, Copy)]
struct Info<'a> {
    ty: Ty,
    shape: Shape<'a>,
}

impl<'a> Info<'a> {
    fn of(ty: Ty) -> Self {
        Info {
            ty,
            shape: Shape::Unknown,
        }
    }
}

struct Checker<'c, 'a> {
    source: &'c str,
    path: &'c str,
    ctx: &'c ExprCtx<'a>,
    errors: &'c mut Vec<ModelError>,
    locals: Vec<(String, Shape<'a>)>,
}

impl<'a> Checker<'_, 'a> {
    fn error(&mut self, node: &Node, message: String) {
        let at = position_of(self.source, node.span.start);
        self.errors
            .push(ModelError::new(self.path, message).at(Some(at)));
    }

    fn text(&self, node: &Node) -> &str {
        self.source.get(node.span.clone()).unwrap_or("?")
    }

    fn visit(&mut self, node: &Node, nesting: usize) -> Info<'a> {
        match &node.kind {
            Kind::Literal(lit) => {
                let ty = match lit {
                    Lit::Null => Ty::Null,
                    Lit::Bool(_) => Ty::Bool,
                    Lit::Int(_) => Ty::Int,
                    Lit::UInt(_) => Ty::UInt,
                    Lit::Double(_) => Ty::Double,
                    Lit::String(_) => Ty::String,
                    Lit::Bytes => Ty::Bytes,
                };
                if self.ctx.fold && ty == Ty::Double {
                    self.error(
                        node,
                        "determinism: no doubles in a fold; use integers (e.g. minor units)".into(),
                    );
                }
                Info::of(ty)
            }
            Kind::Ident(name) => self.ident(node, name),
            Kind::Select {
                operand,
                field,
                test,
            } => {
                let on = self.visit(operand, nesting);
                match on.shape.field(field) {
                    Field::Found(shape) => Info {
                        ty: if *test { Ty::Bool } else { shape.ty() },
                        shape,
                    },
                    Field::Absent(names) => {
                        let h = hint(field, names.iter().copied());
                        let msg = format!("`{}` has no field `{field}`{h}", self.text(operand));
                        self.error(node, msg);
                        Info::of(if *test { Ty::Bool } else { Ty::Unknown })
                    }
                    Field::NotAMap(ty) => {
                        let msg = format!(
                            "`{}` is a {}, it has no field `{field}`",
                            self.text(operand),
                            ty.name()
                        );
                        self.error(node, msg);
                        Info::of(Ty::Unknown)
                    }
                }
            }
            Kind::Index(on, index) => {
                let on = self.visit(on, nesting);
                self.visit(index, nesting);
                let shape = if on.ty == Ty::List {
                    on.shape.element()
                } else {
                    Shape::Unknown
                };
                Info {
                    ty: shape.ty(),
                    shape,
                }
            }
            Kind::Call {
                function,
                target,
                args,
            } => {
                if NONDETERMINISTIC.contains(&function.as_str()) {
                    self.error(
                        node,
                        format!("determinism: `{function}` would read the clock or randomness"),
                    );
                } else if !FUNCTIONS.contains(&function.as_str()) {
                    let msg = format!(
                        "unknown function `{function}`{}",
                        hint(function, FUNCTIONS.iter().copied())
                    );
                    self.error(node, msg);
                }
                if let Some(t) = target {
                    self.visit(t, nesting);
                }
                for a in args {
                    self.visit(a, nesting);
                }
                Info::of(Ty::of_function(function))
            }
            Kind::List(items) => {
                for i in items {
                    self.visit(i, nesting);
                }
                Info::of(Ty::List)
            }
            Kind::Map(entries) => {
                for (k, v) in entries {
                    self.visit(k, nesting);
                    self.visit(v, nesting);
                }
                Info::of(Ty::Map)
            }
            Kind::Not(inner) => {
                let i = self.visit(inner, nesting);
                self.want_bool(inner, i.ty, "`!`");
                Info::of(Ty::Bool)
            }
            Kind::Neg(inner) => {
                let i = self.visit(inner, nesting);
                Info::of(match i.ty {
                    Ty::Int | Ty::Double | Ty::Duration => i.ty,
                    _ => Ty::Unknown,
                })
            }
            Kind::Binary(op, l, r) => {
                let li = self.visit(l, nesting);
                let ri = self.visit(r, nesting);
                match op.class() {
                    BinOp::Logic => {
                        self.want_bool(l, li.ty, "`&&` and `||`");
                        self.want_bool(r, ri.ty, "`&&` and `||`");
                        Info::of(Ty::Bool)
                    }
                    BinOp::Compare | BinOp::In => Info::of(Ty::Bool),
                    BinOp::Arith => Info::of(match (li.ty, ri.ty) {
                        (a, b)
                            if a == b
                                && matches!(
                                    a,
                                    Ty::Int | Ty::UInt | Ty::Double | Ty::String | Ty::List
                                ) =>
                        {
                            a
                        }
                        _ => Ty::Unknown,
                    }),
                }
            }
            Kind::Ternary(c, a, b) => {
                let ci = self.visit(c, nesting);
                self.want_bool(c, ci.ty, "a condition `? :`");
                let ai = self.visit(a, nesting);
                let bi = self.visit(b, nesting);
                Info::of(if ai.ty == bi.ty { ai.ty } else { Ty::Unknown })
            }
            Kind::Comprehension {
                vars,
                range,
                parts,
                makes_list,
            } => self.comprehension(node, vars, range, parts, *makes_list, nesting),
            Kind::Unsupported(what) => {
                self.error(node, format!("{what} is not in Aether's CEL subset"));
                Info::of(Ty::Unknown)
            }
        }
    }

    fn want_bool(&mut self, node: &Node, ty: Ty, what: &str) {
        if !matches!(ty, Ty::Bool | Ty::Unknown) {
            let msg = format!(
                "{what} needs a bool, but `{}` is a {}",
                self.text(node),
                ty.name()
            );
            self.error(node, msg);
        }
    }

    fn ident(&mut self, node: &Node, name: &str) -> Info<'a> {
        if let Some((_, shape)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Info {
                ty: shape.ty(),
                shape: *shape,
            };
        }
        if let Some((_, shape)) = self.ctx.vars.iter().find(|(n, _)| *n == name) {
            return Info {
                ty: Ty::Map,
                shape: *shape,
            };
        }
        let allowed: Vec<&str> = self.ctx.vars.iter().map(|(n, _)| *n).collect();
        let msg = if ROOTS.contains(&name) {
            let why = if self.ctx.fold {
                "determinism: a fold or upcaster reads only "
            } else {
                "here only "
            };
            format!("`{name}` is not available: {why}{}", allowed.join(", "))
        } else {
            format!(
                "unknown variable `{name}`{}",
                hint(name, allowed.iter().copied())
            )
        };
        self.error(node, msg);
        Info::of(Ty::Unknown)
    }

    fn comprehension(
        &mut self,
        node: &Node,
        vars: &[String],
        range: &Node,
        parts: &[Node],
        makes_list: bool,
        nesting: usize,
    ) -> Info<'a> {
        let nesting = nesting + 1;
        if nesting > MAX_COMPREHENSION_NESTING {
            self.error(
                node,
                format!("cost bound: macros nested {nesting} deep, more than {MAX_COMPREHENSION_NESTING}"),
            );
        }
        let ri = self.visit(range, nesting - 1);
        let literal = matches!(range.kind, Kind::List(_) | Kind::Map(_));
        let computed = matches!(range.kind, Kind::Comprehension { .. });
        if !literal && !computed && ri.shape.bound().is_none() {
            let what = if ri.ty == Ty::Map {
                "maxProperties"
            } else {
                "maxItems"
            };
            let msg = format!(
                "cost bound: `{}` is iterated by a macro but its schema declares no `{what}`",
                self.text(range)
            );
            self.error(range, msg);
        }
        if makes_list && (ri.ty == Ty::Map || matches!(range.kind, Kind::Map(_))) {
            self.error(
                node,
                "determinism: `map`/`filter` over a map iterates in an unspecified order".into(),
            );
        }
        let element = if ri.ty == Ty::Map {
            Shape::Unknown
        } else {
            ri.shape.element()
        };
        let mark = self.locals.len();
        for (i, v) in vars.iter().enumerate() {
            self.locals
                .push((v.clone(), if i == 0 { element } else { Shape::Unknown }));
        }
        let infos: Vec<Info<'a>> = parts.iter().map(|p| self.visit(p, nesting)).collect();
        self.locals.truncate(mark);
        let ty = if makes_list {
            Ty::List
        } else {
            match (infos.first(), infos.last()) {
                (_, Some(r)) if r.ty != Ty::Unknown => r.ty,
                (Some(init), _) => init.ty,
                _ => Ty::Unknown,
            }
        };
        Info::of(ty)
    }
}
