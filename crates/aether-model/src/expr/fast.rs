//! A fast path for the simplest expressions: paths into the variables,
//! literals, integer arithmetic, comparisons of like types, `&&`, `||`, `!`,
//! `? :`, map and list literals, `has(var.f)`, `string()` and `size()`.
//! Most guards, data mappings and folds are made only of these.
//!
//! It computes a value only where CEL's meaning is plain: the same types on
//! both sides, no overflow, no division by zero, no missing key, no error
//! to absorb. In every other case it gives up (`None`) and the engine
//! evaluates the whole expression, so errors, heterogeneous comparisons and
//! everything else keep the engine's semantics. `tests` holds it to the
//! engine on the subset suite and on random expressions.

use super::ast::{Kind, Lit, Node, Op};
use super::scope::Scope;
use cel_core::{MapKey, Value, ValueMap};
use std::sync::Arc;

/// A variable an expression may start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    State,
    Command,
    Event,
    Actor,
    Meta,
    Model,
}

impl Root {
    fn of(name: &str) -> Option<Root> {
        Some(match name {
            "state" => Root::State,
            "command" => Root::Command,
            "event" => Root::Event,
            "actor" => Root::Actor,
            "meta" => Root::Meta,
            "model" => Root::Model,
            _ => return None,
        })
    }

    fn get<'a>(self, scope: &Scope<'a>) -> Option<&'a Value> {
        match self {
            Root::State => scope.state,
            Root::Command => scope.command,
            Root::Event => scope.event,
            Root::Actor => scope.actor,
            Root::Meta => scope.meta,
            Root::Model => scope.model,
        }
    }
}

/// An expression of the fast subset.
#[derive(Debug, Clone)]
pub(crate) enum Fast {
    Const(Value),
    Path(Root, Box<[MapKey]>),
    Has(Root, MapKey),
    Not(Box<Fast>),
    Neg(Box<Fast>),
    Bin(Op, Box<Fast>, Box<Fast>),
    Cond(Box<Fast>, Box<Fast>, Box<Fast>),
    Map(Box<[(MapKey, Fast)]>),
    List(Box<[Fast]>),
    Str(Box<Fast>),
    Size(Box<Fast>),
}

/// The fast form of `node`, if all of it is in the fast subset.
pub(crate) fn compile(node: &Node) -> Option<Fast> {
    let b = |n: &Node| compile(n).map(Box::new);
    Some(match &node.kind {
        Kind::Literal(lit) => Fast::Const(match lit {
            Lit::Null => Value::Null,
            Lit::Bool(v) => Value::Bool(*v),
            Lit::Int(v) => Value::Int(*v),
            Lit::UInt(v) => Value::UInt(*v),
            Lit::Double(v) => Value::Double(*v),
            Lit::String(s) => Value::String(Arc::from(s.as_str())),
            Lit::Bytes => return None,
        }),
        Kind::Ident(name) => Fast::Path(Root::of(name)?, Box::new([])),
        Kind::Select {
            operand,
            field,
            test: false,
        } => match compile(operand)? {
            Fast::Path(root, keys) => {
                let mut keys = keys.into_vec();
                keys.push(super::value::key(field));
                Fast::Path(root, keys.into_boxed_slice())
            }
            _ => return None,
        },
        Kind::Select {
            operand,
            field,
            test: true,
        } => match compile(operand)? {
            Fast::Path(root, keys) if keys.is_empty() => Fast::Has(root, super::value::key(field)),
            _ => return None,
        },
        Kind::Not(n) => Fast::Not(b(n)?),
        Kind::Neg(n) => Fast::Neg(b(n)?),
        Kind::Binary(op, l, r) if *op != Op::In => Fast::Bin(*op, b(l)?, b(r)?),
        Kind::Ternary(c, t, e) => Fast::Cond(b(c)?, b(t)?, b(e)?),
        Kind::Map(entries) => {
            let mut out: Vec<(MapKey, Fast)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let Kind::Literal(Lit::String(k)) = &k.kind else {
                    return None;
                };
                let key = super::value::key(k);
                if out.iter().any(|(seen, _)| *seen == key) {
                    return None; // a duplicate key is an error: the engine says so
                }
                out.push((key, compile(v)?));
            }
            Fast::Map(out.into_boxed_slice())
        }
        Kind::List(items) => Fast::List(
            items
                .iter()
                .map(compile)
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        Kind::Call {
            function,
            target: None,
            args,
        } if args.len() == 1 => match function.as_str() {
            "string" => Fast::Str(b(&args[0])?),
            "size" => Fast::Size(b(&args[0])?),
            _ => return None,
        },
        Kind::Call {
            function,
            target: Some(t),
            args,
        } if args.is_empty() && function == "size" => Fast::Size(b(t)?),
        _ => return None,
    })
}

/// The value of `f`, or `None` where the engine must decide.
pub(crate) fn eval(f: &Fast, scope: &Scope<'_>) -> Option<Value> {
    match f {
        Fast::Const(v) => Some(v.clone()),
        Fast::Path(root, keys) => {
            let mut v = root.get(scope)?;
            for k in keys.iter() {
                match v {
                    Value::Map(m) => v = m.get(k)?,
                    _ => return None,
                }
            }
            Some(v.clone())
        }
        Fast::Has(root, key) => match root.get(scope)? {
            Value::Map(m) => Some(Value::Bool(m.contains_key(key))),
            _ => None,
        },
        Fast::Not(n) => match eval(n, scope)? {
            Value::Bool(b) => Some(Value::Bool(!b)),
            _ => None,
        },
        Fast::Neg(n) => match eval(n, scope)? {
            Value::Int(i) => i.checked_neg().map(Value::Int),
            Value::Double(d) => Some(Value::Double(-d)),
            _ => None,
        },
        Fast::Cond(c, t, e) => match eval(c, scope)? {
            Value::Bool(true) => eval(t, scope),
            Value::Bool(false) => eval(e, scope),
            _ => None,
        },
        Fast::Bin(Op::And, l, r) => match eval(l, scope)? {
            Value::Bool(false) => Some(Value::Bool(false)),
            Value::Bool(true) => match eval(r, scope)? {
                v @ Value::Bool(_) => Some(v),
                _ => None,
            },
            _ => None,
        },
        Fast::Bin(Op::Or, l, r) => match eval(l, scope)? {
            Value::Bool(true) => Some(Value::Bool(true)),
            Value::Bool(false) => match eval(r, scope)? {
                v @ Value::Bool(_) => Some(v),
                _ => None,
            },
            _ => None,
        },
        Fast::Bin(op, l, r) => binary(*op, &eval(l, scope)?, &eval(r, scope)?),
        Fast::Map(entries) => {
            let mut m = ValueMap::new();
            for (k, v) in entries.iter() {
                m.insert(k.clone(), eval(v, scope)?);
            }
            Some(Value::Map(Arc::new(m)))
        }
        Fast::List(items) => Some(Value::List(
            items
                .iter()
                .map(|i| eval(i, scope))
                .collect::<Option<Vec<_>>>()?
                .into(),
        )),
        Fast::Str(n) => match eval(n, scope)? {
            Value::Int(i) => Some(Value::String(Arc::from(i.to_string().as_str()))),
            Value::UInt(u) => Some(Value::String(Arc::from(u.to_string().as_str()))),
            v @ Value::String(_) => Some(v),
            _ => None,
        },
        Fast::Size(n) => match eval(n, scope)? {
            Value::String(s) => i64::try_from(s.chars().count()).ok().map(Value::Int),
            Value::List(l) => i64::try_from(l.len()).ok().map(Value::Int),
            Value::Map(m) => i64::try_from(m.len()).ok().map(Value::Int),
            _ => None,
        },
    }
}

fn binary(op: Op, l: &Value, r: &Value) -> Option<Value> {
    use Value::{Bool, Double, Int, Null, String as Str, UInt};
    Some(match (op, l, r) {
        (Op::Add, Int(a), Int(b)) => Int(a.checked_add(*b)?),
        (Op::Sub, Int(a), Int(b)) => Int(a.checked_sub(*b)?),
        (Op::Mul, Int(a), Int(b)) => Int(a.checked_mul(*b)?),
        (Op::Div, Int(a), Int(b)) => Int(a.checked_div(*b)?),
        (Op::Mod, Int(a), Int(b)) => Int(a.checked_rem(*b)?),
        (Op::Add, UInt(a), UInt(b)) => UInt(a.checked_add(*b)?),
        (Op::Sub, UInt(a), UInt(b)) => UInt(a.checked_sub(*b)?),
        (Op::Mul, UInt(a), UInt(b)) => UInt(a.checked_mul(*b)?),
        (Op::Add, Double(a), Double(b)) => Double(a + b),
        (Op::Sub, Double(a), Double(b)) => Double(a - b),
        (Op::Mul, Double(a), Double(b)) => Double(a * b),
        (Op::Add, Str(a), Str(b)) => {
            let mut s = String::with_capacity(a.len() + b.len());
            s.push_str(a);
            s.push_str(b);
            Str(Arc::from(s))
        }
        (Op::Eq | Op::Ne, _, _) => {
            let eq = match (l, r) {
                (Int(a), Int(b)) => a == b,
                (UInt(a), UInt(b)) => a == b,
                (Str(a), Str(b)) => a == b,
                (Bool(a), Bool(b)) => a == b,
                (Null, Null) => true,
                _ => return None,
            };
            Bool(if op == Op::Eq { eq } else { !eq })
        }
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, _, _) => {
            let ord = match (l, r) {
                (Int(a), Int(b)) => a.cmp(b),
                (UInt(a), UInt(b)) => a.cmp(b),
                (Str(a), Str(b)) => a.cmp(b),
                _ => return None,
            };
            Bool(match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
