//! The compiler and checker: a [`Model`] in, a [`CompiledModel`] or every
//! problem found (each with its path) out.

mod expr;
mod shape;
mod suggest;
mod types;

use crate::compiled::{Command, CompiledModel, Emit, Event, Guard};
use crate::error::ModelError;
use crate::expr::value;
use crate::format::Model;
use crate::schema::Schema;
use expr::{Expect, ExprCtx, check_expr};
use serde_json::Value as Json;
use shape::Shape;
use std::collections::HashMap;
use std::sync::Arc;
use suggest::hint;

const ACTOR: &[&str] = &["id", "type"];
const META: &[&str] = &["command_id", "correlation_id", "time"];
const MODEL: &[&str] = &["name", "version"];

/// Compiles and checks a model: every expression (syntax, variables, paths
/// against the schemas with "did you mean", functions, types where
/// derivable, cost bound, determinism), every JSON Schema (meta-schema,
/// local references only), and the cross-references (emitted events
/// declared, every event folded, fold keys in the state schema, limits).
///
/// # Errors
///
/// Every problem found, each a [`ModelError`] with its path
/// (`commands.Withdraw.guards[1].when`) and, inside an expression, its
/// line:col.
///
/// # Examples
///
/// ```
/// let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
/// let model = aether_model::Model::from_yaml(&yaml).unwrap();
/// let compiled = aether_model::check(&model).unwrap();
/// assert_eq!(compiled.name(), "account");
///
/// let broken = yaml.replace("command.amount >= -state.overdraft", "command.amout >= -state.overdraft");
/// let errors = aether_model::check(&aether_model::Model::from_yaml(&broken).unwrap()).unwrap_err();
/// assert_eq!(errors[0].to_string(),
///     "commands.Withdraw.guards[1].when: 1:17: `command` has no field `amout`; did you mean `amount`?");
/// ```
pub fn check(model: &Model) -> Result<CompiledModel, Vec<ModelError>> {
    // Parsing recurses: every expression is parsed on one large-stack thread.
    crate::expr::on_large_stack(|| check_on_this_thread(model))
        .unwrap_or_else(|message| Err(vec![ModelError::new(".", message)]))
}

fn check_on_this_thread(model: &Model) -> Result<CompiledModel, Vec<ModelError>> {
    let mut errors = Vec::new();
    header(model, &mut errors);

    let state_schema = schema(&model.state.schema, "state.schema", &mut errors);
    if let Some(s) = &state_schema {
        if !model.state.initial.is_object() {
            errors.push(ModelError::new(
                "state.initial",
                "the initial state must be an object",
            ));
        }
        for v in s.violations(&model.state.initial) {
            errors.push(ModelError::new(
                "state.initial",
                format!("does not satisfy state.schema: {v}"),
            ));
        }
    }
    if let Ok(n) = serde_json::to_vec(&model.state.initial).map(|v| v.len())
        && n > model.limits.state_bytes as usize
    {
        errors.push(ModelError::new(
            "state.initial",
            format!(
                "{n} bytes, over limits.state_bytes ({})",
                model.limits.state_bytes
            ),
        ));
    }
    let state_shape = Shape::of(&model.state.schema);

    // Event data shapes: the schema, else the keys every emit writes.
    let emitted_keys = emitted_keys(model);
    let event_shape = |name: &str| -> Shape<'_> {
        match model.events.get(name).and_then(|e| e.schema.as_ref()) {
            Some(s) => Shape::of(s),
            None => match emitted_keys.get(name) {
                Some(Some(keys)) => Shape::Keys(keys),
                _ => Shape::Unknown,
            },
        }
    };

    let mut reads_context = false;
    let mut commands = Vec::new();
    for (name, def) in model.commands.iter() {
        let base = format!("commands.{name}");
        let schema = schema(&def.schema, &format!("{base}.schema"), &mut errors);
        let decide_ctx = |expect| ExprCtx {
            vars: vec![
                ("state", state_shape),
                ("command", Shape::of(&def.schema)),
                ("actor", Shape::Fixed(ACTOR)),
                ("meta", Shape::Fixed(META)),
                ("model", Shape::Fixed(MODEL)),
            ],
            fold: false,
            expect,
        };
        let mut reads = |source: &str| {
            reads_context |= source.contains("actor") || source.contains("meta");
        };
        let mut guards = Vec::new();
        for (i, g) in def.guards.iter().enumerate() {
            let path = format!("{base}.guards[{i}]");
            if g.reject.trim().is_empty() {
                errors.push(ModelError::new(
                    format!("{path}.reject"),
                    "a rejection code is required",
                ));
            }
            reads(&g.when);
            let when = check_expr(
                &g.when,
                &format!("{path}.when"),
                &decide_ctx(Expect::Bool),
                &mut errors,
            );
            let message = g.message.as_ref().and_then(|m| {
                reads(m);
                check_expr(
                    m,
                    &format!("{path}.message"),
                    &decide_ctx(Expect::String),
                    &mut errors,
                )
            });
            let details = g.details.as_ref().and_then(|d| {
                reads(d);
                check_expr(
                    d,
                    &format!("{path}.details"),
                    &decide_ctx(Expect::Map),
                    &mut errors,
                )
            });
            if let Some(when) = when {
                guards.push(Guard {
                    path,
                    when,
                    code: Arc::from(g.reject.as_str()),
                    message,
                    details,
                });
            }
        }
        if def.emit.len() > model.limits.events_per_command as usize {
            errors.push(ModelError::new(
                format!("{base}.emit"),
                format!(
                    "{} events, more than limits.events_per_command ({})",
                    def.emit.len(),
                    model.limits.events_per_command
                ),
            ));
        }
        let mut emits = Vec::new();
        for (i, e) in def.emit.iter().enumerate() {
            let path = format!("{base}.emit[{i}]");
            let Some(event) = model.events.names().position(|n| n == e.event) else {
                errors.push(ModelError::new(
                    format!("{path}.event"),
                    format!(
                        "event `{}` is not declared in `events`{}",
                        e.event,
                        hint(&e.event, model.events.names())
                    ),
                ));
                continue;
            };
            let when = e.when.as_ref().and_then(|w| {
                reads(w);
                check_expr(
                    w,
                    &format!("{path}.if"),
                    &decide_ctx(Expect::Bool),
                    &mut errors,
                )
            });
            let data = e.data.as_ref().and_then(|d| {
                reads(d);
                check_expr(
                    d,
                    &format!("{path}.data"),
                    &decide_ctx(Expect::Map),
                    &mut errors,
                )
            });
            emits.push(Emit {
                path,
                event,
                when,
                data,
            });
        }
        if let Some(schema) = schema {
            commands.push(Command {
                name: Arc::from(name),
                schema,
                guards,
                emits,
            });
        }
    }

    let state_props: Option<Vec<&str>> = model
        .state
        .schema
        .get("properties")
        .and_then(Json::as_object)
        .map(|p| p.keys().map(String::as_str).collect());
    let mut events = Vec::new();
    for (name, def) in model.events.iter() {
        let base = format!("events.{name}");
        let schema = def
            .schema
            .as_ref()
            .and_then(|s| schema(s, &format!("{base}.schema"), &mut errors));
        let fold_ctx = ExprCtx {
            vars: vec![("state", state_shape), ("event", event_shape(name))],
            fold: true,
            expect: Expect::Any,
        };
        let mut fold = Vec::new();
        match &def.evolve {
            None => errors.push(ModelError::new(
                format!("{base}.evolve"),
                "every event type needs a fold (`evolve`, `{}` when it changes nothing): history must always fold",
            )),
            Some(patch) => {
                for (key, source) in patch.iter() {
                    let path = format!("{base}.evolve.{key}");
                    if let Some(props) = &state_props
                        && !props.contains(&key)
                        && model.state.schema.get("additionalProperties") != Some(&Json::Bool(true))
                    {
                        errors.push(ModelError::new(
                            path.clone(),
                            format!(
                                "`{key}` is not a property of state.schema{}",
                                hint(key, props.iter().copied())
                            ),
                        ));
                    }
                    if let Some(e) = check_expr(source, &path, &fold_ctx, &mut errors) {
                        fold.push((value::key(key), e));
                    }
                }
            }
        }
        let upcast_ctx = ExprCtx {
            vars: vec![("event", Shape::Unknown)],
            fold: true,
            expect: Expect::Map,
        };
        let mut upcasts = Vec::new();
        let mut last = 0u32;
        for (i, u) in def.upcast.iter().enumerate() {
            let path = format!("{base}.upcast[{i}]");
            if u.before <= last || u.before > model.version {
                errors.push(ModelError::new(
                    format!("{path}.before"),
                    format!(
                        "`before` must ascend, from 1 up to the model's version ({}); found {}",
                        model.version, u.before
                    ),
                ));
            }
            last = last.max(u.before);
            if let Some(e) = check_expr(&u.data, &format!("{path}.data"), &upcast_ctx, &mut errors)
            {
                upcasts.push((u.before, e));
            }
        }
        events.push(Event {
            name: Arc::from(name),
            path: base,
            schema,
            fold,
            upcasts,
        });
    }

    for (name, p) in model.policies.iter() {
        let base = format!("policies.{name}");
        if model.events.get(&p.on).is_none() {
            errors.push(ModelError::new(
                format!("{base}.on"),
                format!(
                    "event `{}` is not declared{}",
                    p.on,
                    hint(&p.on, model.events.names())
                ),
            ));
        }
        let ctx = |expect| ExprCtx {
            vars: vec![
                ("event", event_shape(&p.on)),
                ("actor", Shape::Fixed(ACTOR)),
                ("model", Shape::Fixed(MODEL)),
            ],
            fold: false,
            expect,
        };
        if let Some(w) = &p.when {
            check_expr(w, &format!("{base}.when"), &ctx(Expect::Bool), &mut errors);
        }
        check_expr(
            &p.send.to,
            &format!("{base}.send.to"),
            &ctx(Expect::String),
            &mut errors,
        );
        if let Some(d) = &p.send.data {
            check_expr(
                d,
                &format!("{base}.send.data"),
                &ctx(Expect::Map),
                &mut errors,
            );
        }
    }

    let mut queries = HashMap::new();
    for (name, source) in model.queries.iter() {
        let ctx = ExprCtx {
            vars: vec![("state", state_shape), ("model", Shape::Fixed(MODEL))],
            fold: false,
            expect: Expect::Any,
        };
        if let Some(e) = check_expr(source, &format!("queries.{name}"), &ctx, &mut errors) {
            queries.insert(Box::from(name), e);
        }
    }

    let Some(state_schema) = state_schema else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CompiledModel {
        limits: model.limits,
        state_schema,
        initial: value::from_json(&model.state.initial),
        command_index: index(commands.iter().map(|c| &*c.name)),
        commands,
        event_index: index(events.iter().map(|e| &*e.name)),
        events,
        queries,
        model_value: value::map([
            ("name", value::string(&model.model)),
            ("version", crate::expr::Value::Int(i64::from(model.version))),
        ]),
        reads_context,
        strict: false,
        source: model.clone(),
    })
}

fn index<'a>(names: impl Iterator<Item = &'a str>) -> HashMap<Box<str>, usize> {
    names.enumerate().map(|(i, n)| (Box::from(n), i)).collect()
}

fn header(model: &Model, errors: &mut Vec<ModelError>) {
    let ok = !model.model.is_empty()
        && model.model.len() <= 64
        && model
            .model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        errors.push(ModelError::new(
            "model",
            "the actor type's name must be 1 to 64 ASCII letters, digits, `_` or `-`",
        ));
    }
    if model.version == 0 {
        errors.push(ModelError::new("version", "versions start at 1"));
    }
    if model.limits.events_per_command == 0 {
        errors.push(ModelError::new(
            "limits.events_per_command",
            "must be at least 1",
        ));
    }
    if model.commands.is_empty() {
        errors.push(ModelError::new(
            "commands",
            "a model needs at least one command",
        ));
    }
}

fn schema(schema: &Json, path: &str, errors: &mut Vec<ModelError>) -> Option<Schema> {
    match Schema::compile(schema, path) {
        Ok(s) => Some(s),
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}

/// For each event type without a schema: the keys of its data as every
/// emit writes it (`None` when an emit's data is not a map literal).
fn emitted_keys(model: &Model) -> HashMap<&str, Option<Vec<String>>> {
    let mut out: HashMap<&str, Option<Vec<String>>> = HashMap::new();
    for (_, c) in model.commands.iter() {
        for e in &c.emit {
            let keys = match &e.data {
                None => Some(Vec::new()),
                Some(src) => literal_keys(src),
            };
            let slot = out
                .entry(e.event.as_str())
                .or_insert_with(|| Some(Vec::new()));
            match (slot.as_mut(), keys) {
                (Some(all), Some(keys)) => {
                    for k in keys {
                        if !all.contains(&k) {
                            all.push(k);
                        }
                    }
                }
                _ => *slot = None,
            }
        }
    }
    out
}

fn literal_keys(source: &str) -> Option<Vec<String>> {
    let e = crate::expr::compile(source).ok()?;
    match &e.tree.kind {
        crate::expr::Kind::Map(entries) => entries
            .iter()
            .map(|(k, _)| match &k.kind {
                crate::expr::Kind::Literal(crate::expr::Lit::String(s)) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}
