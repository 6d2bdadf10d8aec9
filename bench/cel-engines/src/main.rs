//! The CEL subset suite of `aether-model` and two typical expressions of the
//! bank-account model, run on `cel` 0.15 and `cel-core` 0.5: conformance
//! (pass/fail per case) and speed (ns per evaluation, same run).

use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

trait Engine {
    type Prog;
    type Val;
    const NAME: &'static str;
    fn new() -> Self;
    fn compile(&self, src: &str) -> Result<Self::Prog, String>;
    fn from_json(&self, j: &Json) -> Self::Val;
    fn eval(&self, p: &Self::Prog, vars: &[(&str, &Self::Val)]) -> Result<Json, String>;
    /// Evaluation whose result is kept as an engine value (no conversion).
    fn eval_bool(&self, p: &Self::Prog, vars: &[(&str, &Self::Val)]) -> bool;
}

// ---------------------------------------------------------------- cel 0.15
mod cel_rust {
    use super::*;
    use cel::common::value::{CowVal, Val};
    use cel::context::VariableResolver;
    use cel::objects::{Key, Map};
    use cel::{Context, Env, Program, Value};

    pub struct CelRust {
        env: Arc<Env>,
    }

    struct Vars<'a> {
        vars: &'a [(&'a str, &'a Box<dyn Val>)],
    }
    impl VariableResolver for Vars<'_> {
        fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
            self.vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| CowVal::Borrowed(v.as_ref()))
        }
    }

    fn to_value(j: &Json) -> Value {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Json::String(s) => Value::String(Arc::new(s.clone())),
            Json::Array(a) => Value::List(Arc::new(a.iter().map(to_value).collect())),
            Json::Object(o) => Value::Map(Map {
                map: Arc::new(
                    o.iter()
                        .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_value(v)))
                        .collect::<HashMap<_, _>>(),
                ),
            }),
        }
    }

    fn to_json(v: &Value) -> Result<Json, String> {
        Ok(match v {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => json!(i),
            Value::UInt(u) => json!(u),
            Value::Float(f) => json!(f),
            Value::String(s) => json!(s.as_str()),
            Value::List(l) => Json::Array(l.iter().map(to_json).collect::<Result<_, _>>()?),
            Value::Map(m) => {
                let mut o = serde_json::Map::new();
                for (k, v) in m.map.iter() {
                    let k = match k {
                        Key::String(s) => s.to_string(),
                        Key::Int(i) => i.to_string(),
                        Key::Uint(u) => u.to_string(),
                        Key::Bool(b) => b.to_string(),
                    };
                    o.insert(k, to_json(v)?);
                }
                Json::Object(o)
            }
            other => return Err(format!("no JSON form: {other:?}")),
        })
    }

    impl Engine for CelRust {
        type Prog = Program;
        type Val = Box<dyn Val>;
        const NAME: &'static str = "cel 0.15.0";
        fn new() -> Self {
            CelRust {
                env: Arc::new(Env::stdlib()),
            }
        }
        fn compile(&self, src: &str) -> Result<Program, String> {
            self.env.compile(src).map_err(|e| e.to_string())
        }
        fn from_json(&self, j: &Json) -> Box<dyn Val> {
            to_value(j).try_into().expect("JSON converts")
        }
        fn eval(&self, p: &Program, vars: &[(&str, &Box<dyn Val>)]) -> Result<Json, String> {
            let r = Vars { vars };
            let mut ctx = Context::with_env(self.env.clone());
            ctx.set_variable_resolver(&r);
            let v = p.execute(&ctx).map_err(|e| e.to_string())?;
            to_json(&v)
        }
        fn eval_bool(&self, p: &Program, vars: &[(&str, &Box<dyn Val>)]) -> bool {
            let r = Vars { vars };
            let mut ctx = Context::with_env(self.env.clone());
            ctx.set_variable_resolver(&r);
            matches!(p.execute(&ctx), Ok(Value::Bool(true)))
        }
    }
}

// ----------------------------------------------------------- cel-core 0.5
mod cel_core_engine {
    use super::*;
    use cel_core::{Activation, CelType, Env, MapKey, Program, Value, ValueMap};

    pub struct CelCore {
        env: Env,
    }
    /// cel-core without its type checker (parse, then evaluate).
    pub struct CelCoreUnchecked(CelCore);
    impl Engine for CelCoreUnchecked {
        type Prog = Program;
        type Val = Value;
        const NAME: &'static str = "cel-core 0.5.1, parse_only (no checker)";
        fn new() -> Self {
            CelCoreUnchecked(CelCore::new())
        }
        fn compile(&self, src: &str) -> Result<Program, String> {
            let ast = self.0.env.parse_only(src).map_err(|e| e.to_string())?;
            self.0.env.program(&ast).map_err(|e| e.to_string())
        }
        fn from_json(&self, j: &Json) -> Value {
            to_value(j)
        }
        fn eval(&self, p: &Program, vars: &[(&str, &Value)]) -> Result<Json, String> {
            self.0.eval(p, vars)
        }
        fn eval_bool(&self, p: &Program, vars: &[(&str, &Value)]) -> bool {
            self.0.eval_bool(p, vars)
        }
    }

    struct Vars<'a> {
        vars: &'a [(&'a str, &'a Value)],
    }
    impl Activation for Vars<'_> {
        fn resolve(&self, name: &str) -> Option<Value> {
            self.vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).clone())
        }
    }

    fn to_value(j: &Json) -> Value {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Json::String(s) => Value::String(Arc::from(s.as_str())),
            Json::Array(a) => Value::List(a.iter().map(to_value).collect()),
            Json::Object(o) => {
                Value::Map(Arc::new(ValueMap::from_entries(o.iter().map(|(k, v)| {
                    (MapKey::String(Arc::from(k.as_str())), to_value(v))
                }))))
            }
        }
    }

    fn to_json(v: &Value) -> Result<Json, String> {
        Ok(match v {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => json!(i),
            Value::UInt(u) => json!(u),
            Value::Double(f) => json!(f),
            Value::String(s) => json!(&**s),
            Value::List(l) => Json::Array(l.iter().map(to_json).collect::<Result<_, _>>()?),
            Value::Map(m) => {
                let mut o = serde_json::Map::new();
                for (k, v) in m.iter() {
                    let k = match k {
                        MapKey::String(s) => s.to_string(),
                        MapKey::Int(i) => i.to_string(),
                        MapKey::UInt(u) => u.to_string(),
                        MapKey::Bool(b) => b.to_string(),
                    };
                    o.insert(k, to_json(v)?);
                }
                Json::Object(o)
            }
            Value::Error(e) => return Err(e.to_string()),
            other => return Err(format!("no JSON form: {other:?}")),
        })
    }

    impl Engine for CelCore {
        type Prog = Program;
        type Val = Value;
        const NAME: &'static str = "cel-core 0.5.1";
        fn new() -> Self {
            let mut env = Env::with_standard_library();
            for v in ["state", "command", "event", "x", "meta", "actor", "nosuch"] {
                env.add_variable(v, CelType::Dyn);
            }
            CelCore { env }
        }
        fn compile(&self, src: &str) -> Result<Program, String> {
            let ast = self.env.compile(src).map_err(|e| e.to_string())?;
            self.env.program(&ast).map_err(|e| e.to_string())
        }
        fn from_json(&self, j: &Json) -> Value {
            to_value(j)
        }
        fn eval(&self, p: &Program, vars: &[(&str, &Value)]) -> Result<Json, String> {
            let v = p.eval(&Vars { vars });
            to_json(&v)
        }
        fn eval_bool(&self, p: &Program, vars: &[(&str, &Value)]) -> bool {
            matches!(p.eval(&Vars { vars }), Value::Bool(true))
        }
    }
}

fn conformance<E: Engine>(cases: &[Json]) -> (usize, Vec<String>) {
    let e = E::new();
    let mut pass = 0;
    let mut fails = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expr = case["expr"].as_str().unwrap();
        let bindings: Vec<(String, E::Val)> = case
            .get("bindings")
            .and_then(Json::as_object)
            .map(|o| o.iter().map(|(k, v)| (k.clone(), e.from_json(v))).collect())
            .unwrap_or_default();
        let vars: Vec<(&str, &E::Val)> = bindings.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let want_error = case.get("error").is_some();
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            e.compile(expr).and_then(|p| e.eval(&p, &vars))
        }));
        let ok = match (&got, want_error) {
            (Err(_), _) => {
                fails.push(format!("{name}: PANIC"));
                continue;
            }
            (Ok(Err(_)), true) => true,
            (Ok(Ok(v)), false) => v == &case["expect"],
            _ => false,
        };
        if ok {
            pass += 1;
        } else {
            fails.push(format!("{name}: `{expr}` -> {:?}", got.unwrap()));
        }
    }
    (pass, fails)
}

fn speed<E: Engine>(iters: u32) -> [f64; 4] {
    let e = E::new();
    let state =
        e.from_json(&json!({"status": "open", "owner": "ann", "balance": 50, "overdraft": 100}));
    let command_json = json!({"amount": 30});
    let command = e.from_json(&command_json);
    let Ok(guard) = e.compile("state.balance - command.amount >= -state.overdraft") else {
        return [f64::NAN; 4];
    };
    let status = e.compile("state.status == 'open'").unwrap();
    let data = e
        .compile("{'balance': state.balance - command.amount}")
        .unwrap();
    let vars = [("state", &state), ("command", &command)];
    let time = |f: &mut dyn FnMut()| {
        for _ in 0..iters / 10 {
            f();
        }
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed().as_nanos() as f64 / iters as f64
    };
    let g = time(&mut || assert!(e.eval_bool(&guard, &vars)));
    let s = time(&mut || assert!(e.eval_bool(&status, &vars)));
    let d = time(&mut || {
        std::hint::black_box(e.eval(&data, &vars).unwrap());
    });
    let c = time(&mut || {
        std::hint::black_box(e.from_json(&command_json));
    });
    [g, s, d, c]
}

fn main() {
    let cases: Vec<Json> = serde_json::from_str(
        &std::fs::read_to_string("../../crates/aether-model/tests/data/cel_subset.json").unwrap(),
    )
    .unwrap();
    let iters: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    report::<cel_rust::CelRust>(&cases, iters);
    report::<cel_core_engine::CelCore>(&cases, iters);
    report::<cel_core_engine::CelCoreUnchecked>(&cases, iters);
}

fn report<E: Engine>(cases: &[Json], iters: u32) {
    let (pass, fails) = conformance::<E>(cases);
    println!("== {}: {pass}/{} cases pass", E::NAME, cases.len());
    for f in fails {
        println!("   FAIL {f}");
    }
    let [g, s, d, c] = speed::<E>(iters);
    println!(
        "   speed (ns/eval): guard `balance - amount >= -overdraft` {g:.0}; guard `status == 'open'` {s:.0}; data map `{{'balance': ...}}` to JSON {d:.0}; command JSON -> engine value {c:.0}"
    );
}
