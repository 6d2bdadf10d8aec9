//! Aether's view of an expression's syntax tree, converted from the
//! engine's, for the checker: what the checker needs and nothing else.

use cel_core::{BinaryOp, Expr as E, SpannedExpr, UnaryOp};
use std::ops::Range;

/// A node and the byte range of its source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    pub(crate) span: Range<usize>,
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    String(String),
    Bytes,
}

/// Binary operators (`&&` and `||` included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    And,
    Or,
}

/// Classes of binary operators, for the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Arith,
    Compare,
    In,
    Logic,
}

impl Op {
    pub(crate) fn class(self) -> BinOp {
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod => BinOp::Arith,
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => BinOp::Compare,
            Op::In => BinOp::In,
            Op::And | Op::Or => BinOp::Logic,
        }
    }
}

/// The constructs of Aether's CEL subset; anything else is `Unsupported`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Literal(Lit),
    Ident(String),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Binary(Op, Box<Node>, Box<Node>),
    Ternary(Box<Node>, Box<Node>, Box<Node>),
    /// `operand.field`; `test` for `has(operand.field)`.
    Select {
        operand: Box<Node>,
        field: String,
        test: bool,
    },
    Index(Box<Node>, Box<Node>),
    /// `function(args)` or `target.function(args)`.
    Call {
        function: String,
        target: Option<Box<Node>>,
        args: Vec<Node>,
    },
    /// An expanded macro (`all`, `exists`, `exists_one`, `map`, `filter`).
    Comprehension {
        vars: Vec<String>,
        range: Box<Node>,
        /// `init`, `condition`, `step`, `result`.
        parts: Vec<Node>,
        /// Whether the macro produces a list (`map`, `filter`).
        makes_list: bool,
    },
    Unsupported(&'static str),
}

pub(crate) fn convert(e: &SpannedExpr) -> Node {
    let b = |e: &SpannedExpr| Box::new(convert(e));
    let kind = match &e.node {
        E::Null => Kind::Literal(Lit::Null),
        E::Bool(b) => Kind::Literal(Lit::Bool(*b)),
        E::Int(i) => Kind::Literal(Lit::Int(*i)),
        E::UInt(u) => Kind::Literal(Lit::UInt(*u)),
        E::Float(f) => Kind::Literal(Lit::Double(*f)),
        E::String(s) => Kind::Literal(Lit::String(s.clone())),
        E::Bytes(_) => Kind::Literal(Lit::Bytes),
        E::Ident(name) => Kind::Ident(name.clone()),
        E::RootIdent(_) => Kind::Unsupported("a leading-dot identifier"),
        E::List(items) => {
            if items.iter().any(|i| i.optional) {
                Kind::Unsupported("an optional list element")
            } else {
                Kind::List(items.iter().map(|i| convert(&i.expr)).collect())
            }
        }
        E::Map(entries) => {
            if entries.iter().any(|i| i.optional) {
                Kind::Unsupported("an optional map entry")
            } else {
                Kind::Map(
                    entries
                        .iter()
                        .map(|m| (convert(&m.key), convert(&m.value)))
                        .collect(),
                )
            }
        }
        E::Unary { op, expr } => match op {
            UnaryOp::Neg => Kind::Neg(b(expr)),
            UnaryOp::Not => Kind::Not(b(expr)),
        },
        E::Binary { op, left, right } => {
            let op = match op {
                BinaryOp::Add => Op::Add,
                BinaryOp::Sub => Op::Sub,
                BinaryOp::Mul => Op::Mul,
                BinaryOp::Div => Op::Div,
                BinaryOp::Mod => Op::Mod,
                BinaryOp::Eq => Op::Eq,
                BinaryOp::Ne => Op::Ne,
                BinaryOp::Lt => Op::Lt,
                BinaryOp::Le => Op::Le,
                BinaryOp::Gt => Op::Gt,
                BinaryOp::Ge => Op::Ge,
                BinaryOp::In => Op::In,
                BinaryOp::And => Op::And,
                BinaryOp::Or => Op::Or,
            };
            Kind::Binary(op, b(left), b(right))
        }
        E::Ternary {
            cond,
            then_expr,
            else_expr,
        } => Kind::Ternary(b(cond), b(then_expr), b(else_expr)),
        E::Member {
            expr,
            field,
            optional,
        } => {
            if *optional {
                Kind::Unsupported("optional selection `.?`")
            } else {
                Kind::Select {
                    operand: b(expr),
                    field: field.clone(),
                    test: false,
                }
            }
        }
        E::MemberTestOnly { expr, field } => Kind::Select {
            operand: b(expr),
            field: field.clone(),
            test: true,
        },
        E::Index {
            expr,
            index,
            optional,
        } => {
            if *optional {
                Kind::Unsupported("optional index `[?`")
            } else {
                Kind::Index(b(expr), b(index))
            }
        }
        E::Call { expr, args } => {
            let args: Vec<Node> = args.iter().map(convert).collect();
            match &expr.node {
                E::Ident(name) => Kind::Call {
                    function: name.clone(),
                    target: None,
                    args,
                },
                E::Member {
                    expr: target,
                    field,
                    optional: false,
                } => Kind::Call {
                    function: field.clone(),
                    target: Some(b(target)),
                    args,
                },
                _ => Kind::Unsupported("a call of a computed function"),
            }
        }
        E::Struct { .. } => Kind::Unsupported("a message literal"),
        E::Comprehension(c) => {
            let mut vars = vec![c.iter_var.clone(), c.accu_var.clone()];
            if !c.iter_var2.is_empty() {
                vars.push(c.iter_var2.clone());
            }
            let makes_list = matches!(c.accu_init.node, E::List(_));
            Kind::Comprehension {
                vars,
                range: b(&c.iter_range),
                parts: vec![
                    convert(&c.accu_init),
                    convert(&c.loop_condition),
                    convert(&c.loop_step),
                    convert(&c.result),
                ],
                makes_list,
            }
        }
        E::Bind { .. } => Kind::Unsupported("`cel.bind`"),
        E::Error => Kind::Unsupported("an unparsable part"),
    };
    Node {
        kind,
        span: e.span.clone(),
    }
}

impl Node {
    /// Visits this node and every node under it, with the depth (0 here).
    pub(crate) fn walk(&self, depth: usize, f: &mut dyn FnMut(&Node, usize)) {
        f(self, depth);
        let d = depth + 1;
        match &self.kind {
            Kind::Literal(_) | Kind::Ident(_) | Kind::Unsupported(_) => {}
            Kind::List(items) => items.iter().for_each(|n| n.walk(d, f)),
            Kind::Map(entries) => entries.iter().for_each(|(k, v)| {
                k.walk(d, f);
                v.walk(d, f);
            }),
            Kind::Not(n) | Kind::Neg(n) => n.walk(d, f),
            Kind::Binary(_, l, r) | Kind::Index(l, r) => {
                l.walk(d, f);
                r.walk(d, f);
            }
            Kind::Ternary(a, b, c) => {
                a.walk(d, f);
                b.walk(d, f);
                c.walk(d, f);
            }
            Kind::Select { operand, .. } => operand.walk(d, f),
            Kind::Call { target, args, .. } => {
                if let Some(t) = target {
                    t.walk(d, f);
                }
                args.iter().for_each(|n| n.walk(d, f));
            }
            Kind::Comprehension { range, parts, .. } => {
                range.walk(d, f);
                parts.iter().for_each(|n| n.walk(d, f));
            }
        }
    }
}
