//! [`ModelDiff`]: what changed between two versions of a model, and which
//! of the changes break callers or stored state.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value as Json;

use super::tighten::tightenings;
use crate::format::{EventDef, Model, NamedMap};

/// Names added, removed and changed between two versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// In the newer version only.
    pub added: Vec<String>,
    /// In the older version only.
    pub removed: Vec<String>,
    /// In both, defined differently.
    pub changed: Vec<String>,
}

impl Changes {
    fn of<T: PartialEq>(old: &NamedMap<T>, new: &NamedMap<T>) -> Self {
        let mut c = Changes::default();
        for (name, def) in new.iter() {
            match old.get(name) {
                None => c.added.push(name.to_owned()),
                Some(o) if o != def => c.changed.push(name.to_owned()),
                Some(_) => {}
            }
        }
        c.removed = old
            .names()
            .filter(|n| new.get(n).is_none())
            .map(str::to_owned)
            .collect();
        c
    }

    /// Whether nothing was added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The state fingerprint of two versions, and what made it change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FingerprintChange {
    /// The older version's state fingerprint.
    pub from: String,
    /// The newer version's.
    pub to: String,
    /// What changed in the parts the fingerprint covers (`state.schema`,
    /// `events.Deposited.evolve`, ...); empty when the fingerprints are equal.
    pub reasons: Vec<String>,
}

impl FingerprintChange {
    /// Whether the fingerprint changed: active actors then reload their
    /// state from the log rather than keep it, and snapshots written under
    /// the older version are not used.
    pub fn changed(&self) -> bool {
        self.from != self.to
    }
}

/// What changed from one version of a model to another: commands, events
/// and queries added, removed and changed; command schemas that accept
/// less than before; whether the state fingerprint changed, and why.
///
/// # Examples
///
/// ```
/// use aether_model::Model;
/// use aether_model::deploy::ModelDiff;
///
/// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
/// let v3 = Model::from_yaml(&yaml).unwrap();
/// let mut v4 = v3.clone();
/// v4.version = 4;
/// v4.queries.insert("Status", "state.status".to_owned());
/// let diff = ModelDiff::between(&v3, &v4);
/// assert_eq!(diff.queries.added, ["Status"]);
/// assert!(diff.breaking().is_empty());
/// assert!(!diff.fingerprint.changed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelDiff {
    /// The model's name.
    pub name: String,
    /// The older version.
    pub from: u32,
    /// The newer version.
    pub to: u32,
    /// Commands.
    pub commands: Changes,
    /// Event types.
    pub events: Changes,
    /// Queries.
    pub queries: Changes,
    /// Command schemas that may accept less than before, each as
    /// `commands.<Name>.schema…: what`. Aether counts a schema change it
    /// cannot prove looser as tightening.
    pub tightened: Vec<String>,
    /// The state fingerprint.
    pub fingerprint: FingerprintChange,
}

impl ModelDiff {
    /// The diff from `old` to `new` (two versions of one model).
    pub fn between(old: &Model, new: &Model) -> Self {
        let mut tightened = Vec::new();
        for (name, def) in new.commands.iter() {
            if let Some(before) = old.commands.get(name) {
                tightenings(
                    &before.schema,
                    &def.schema,
                    &format!("commands.{name}.schema"),
                    &mut tightened,
                );
            }
        }
        let (from_fp, to_fp) = (old.state_fingerprint(), new.state_fingerprint());
        let reasons = if from_fp == to_fp {
            Vec::new()
        } else {
            fingerprint_reasons(old, new)
        };
        ModelDiff {
            name: new.model.clone(),
            from: old.version,
            to: new.version,
            commands: Changes::of(&old.commands, &new.commands),
            events: Changes::of(&old.events, &new.events),
            queries: Changes::of(&old.queries, &new.queries),
            tightened,
            fingerprint: FingerprintChange {
                from: from_fp,
                to: to_fp,
                reasons,
            },
        }
    }

    /// The breaking changes, one line each: commands removed, event types
    /// removed, command schemas tightened. Publishing them needs
    /// [`PublishOptions::breaking`](super::PublishOptions::breaking).
    pub fn breaking(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .commands
            .removed
            .iter()
            .map(|c| format!("command `{c}` removed"))
            .collect();
        out.extend(
            self.events
                .removed
                .iter()
                .map(|e| format!("event type `{e}` removed")),
        );
        out.extend(self.tightened.iter().map(|t| format!("tightened: {t}")));
        out
    }

    /// Whether the two versions define the same commands, events, queries
    /// and state (examples, limits and policies aside).
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
            && self.events.is_empty()
            && self.queries.is_empty()
            && !self.fingerprint.changed()
    }
}

impl fmt::Display for ModelDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} v{} -> v{}", self.name, self.from, self.to)?;
        for (what, c) in [
            ("command", &self.commands),
            ("event", &self.events),
            ("query", &self.queries),
        ] {
            for n in &c.added {
                writeln!(f, "  + {what} {n}")?;
            }
            for n in &c.removed {
                writeln!(f, "  - {what} {n}")?;
            }
            for n in &c.changed {
                writeln!(f, "  ~ {what} {n}")?;
            }
        }
        for t in &self.tightened {
            writeln!(f, "  ! tightened {t}")?;
        }
        if self.fingerprint.changed() {
            write!(
                f,
                "  state fingerprint {} -> {} ({})",
                self.fingerprint.from,
                self.fingerprint.to,
                self.fingerprint.reasons.join(", ")
            )
        } else {
            write!(f, "  state fingerprint unchanged ({})", self.fingerprint.to)
        }
    }
}

/// What differs in the parts the state fingerprint covers.
fn fingerprint_reasons(old: &Model, new: &Model) -> Vec<String> {
    let mut out = Vec::new();
    if old.state.schema != new.state.schema {
        out.push("state.schema changed".to_owned());
    }
    if old.state.initial != new.state.initial {
        out.push("state.initial changed".to_owned());
    }
    for (name, def) in new.events.iter() {
        match old.events.get(name) {
            None => out.push(format!("events.{name} added")),
            Some(before) => {
                for part in event_changes(before, def) {
                    out.push(format!("events.{name}.{part} changed"));
                }
            }
        }
    }
    for name in old.events.names().filter(|n| new.events.get(n).is_none()) {
        out.push(format!("events.{name} removed"));
    }
    out
}

fn event_changes(old: &EventDef, new: &EventDef) -> Vec<&'static str> {
    let fold = |e: &EventDef| -> BTreeMap<String, String> {
        e.evolve
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect()
    };
    let upcast = |e: &EventDef| -> Vec<Json> {
        e.upcast
            .iter()
            .map(|u| serde_json::json!([u.before, u.data]))
            .collect()
    };
    let mut out = Vec::new();
    if old.schema != new.schema {
        out.push("schema");
    }
    if fold(old) != fold(new) {
        out.push("evolve");
    }
    if upcast(old) != upcast(new) {
        out.push("upcast");
    }
    out
}
