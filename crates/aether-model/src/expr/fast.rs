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
use std::borrow::Cow;
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
    eval_ref(f, scope).map(Cow::into_owned)
}

/// [`eval`], borrowing what it can: a path into the scope and a constant
/// are read in place, not cloned (a clone of a string or map is an atomic
/// increment, and its drop a decrement, for every operand of every guard).
fn eval_ref<'a>(f: &'a Fast, scope: &Scope<'a>) -> Option<Cow<'a, Value>> {
    let owned = match f {
        Fast::Const(v) => return Some(Cow::Borrowed(v)),
        Fast::Path(root, keys) => {
            let mut v = root.get(scope)?;
            for k in keys.iter() {
                match v {
                    Value::Map(m) => v = field(m, k)?,
                    _ => return None,
                }
            }
            return Some(Cow::Borrowed(v));
        }
        Fast::Has(root, key) => match root.get(scope)? {
            Value::Map(m) => Value::Bool(field(m, key).is_some()),
            _ => return None,
        },
        Fast::Not(n) => match *eval_ref(n, scope)? {
            Value::Bool(b) => Value::Bool(!b),
            _ => return None,
        },
        Fast::Neg(n) => match *eval_ref(n, scope)? {
            Value::Int(i) => Value::Int(i.checked_neg()?),
            Value::Double(d) => Value::Double(-d),
            _ => return None,
        },
        Fast::Cond(c, t, e) => {
            return match *eval_ref(c, scope)? {
                Value::Bool(true) => eval_ref(t, scope),
                Value::Bool(false) => eval_ref(e, scope),
                _ => None,
            };
        }
        // `&&` stops at false, `||` at true; the other side decides.
        Fast::Bin(op @ (Op::And | Op::Or), l, r) => {
            let stop = *op == Op::Or;
            match *eval_ref(l, scope)? {
                Value::Bool(b) if b == stop => Value::Bool(stop),
                Value::Bool(_) => match *eval_ref(r, scope)? {
                    Value::Bool(b) => Value::Bool(b),
                    _ => return None,
                },
                _ => return None,
            }
        }
        Fast::Bin(op, l, r) => binary(*op, &*eval_ref(l, scope)?, &*eval_ref(r, scope)?)?,
        Fast::Map(entries) => {
            let mut m = ValueMap::new();
            for (k, v) in entries.iter() {
                m.insert(k.clone(), eval(v, scope)?);
            }
            Value::Map(Arc::new(m))
        }
        Fast::List(items) => Value::List(
            items
                .iter()
                .map(|i| eval(i, scope))
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        Fast::Str(n) => {
            let v = eval_ref(n, scope)?;
            match *v {
                Value::String(_) => return Some(v),
                Value::Int(i) => Value::String(Arc::from(i.to_string().as_str())),
                Value::UInt(u) => Value::String(Arc::from(u.to_string().as_str())),
                _ => return None,
            }
        }
        Fast::Size(n) => match &*eval_ref(n, scope)? {
            Value::String(s) => Value::Int(i64::try_from(s.chars().count()).ok()?),
            Value::List(l) => Value::Int(i64::try_from(l.len()).ok()?),
            Value::Map(m) => Value::Int(i64::try_from(m.len()).ok()?),
            _ => return None,
        },
    };
    Some(Cow::Owned(owned))
}

/// `m[k]`. A small map (a state, a command's body, an event's data) is
/// scanned for an equal key, which compares lengths before bytes, where
/// the B-tree's ordered search compares bytes at every key it passes.
fn field<'a>(m: &'a ValueMap, k: &MapKey) -> Option<&'a Value> {
    const SCAN: usize = 8;
    if m.len() > SCAN {
        return m.get(k);
    }
    m.iter().find_map(|(key, v)| (key == k).then_some(v))
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
