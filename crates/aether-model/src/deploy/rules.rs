//! The publish rules, the same on the command line and on every node:
//! [`review`] decides whether a model may be published after another.

use super::diff::ModelDiff;
use super::error::PublishError;
use super::replay::ReplayReport;
use crate::check::check;
use crate::compiled::CompiledModel;
use crate::format::Model;

/// How to publish.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// Allow breaking changes: removing a command or an event type,
    /// tightening a command's schema.
    pub breaking: bool,
    /// Publish even though the replay check failed
    /// ([`PublishError::ReplayDiverged`]); replace the document an
    /// interrupted publish left under the version's key
    /// ([`PublishError::VersionTaken`]). Never overrides the check, the
    /// examples, the version rule or an unfoldable history.
    pub force: bool,
    /// The result of a replay check of this model against real histories
    /// ([`replay_check`](super::replay_check)), if one was run: a failure
    /// refuses the publish unless `force`.
    pub replay: Option<ReplayReport>,
}

/// What the registry holds of a model before a publish.
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    /// The version the pointer names.
    pub model: &'a Model,
    /// Every event type that version or an earlier one could emit.
    pub emitted: &'a [String],
}

/// A publish the rules allow: the compiled model, what changed, and the
/// warnings to show.
#[derive(Debug)]
pub struct Review {
    /// The model, compiled and checked.
    pub compiled: CompiledModel,
    /// The diff from the version published before (`None` for a first
    /// publish).
    pub diff: Option<ModelDiff>,
    /// Things to know that do not stop the publish (a changed state
    /// fingerprint, with why; the breaking changes allowed).
    pub warnings: Vec<String>,
    /// Every event type this version or an earlier one could emit (for the
    /// pointer).
    pub emitted: Vec<String>,
}

/// Applies the publish rules to `model` after `previous` (none for a first
/// publish): it must check; its examples must pass; its version must be
/// the previous + 1 (any version ≥ 1 at first); every event type an
/// earlier version could emit must still have a fold; removing a command
/// or an event type or tightening a command schema needs
/// `options.breaking`; a failed replay check needs `options.force`.
///
/// # Errors
///
/// The first rule broken, as a [`PublishError`].
///
/// # Examples
///
/// ```
/// use aether_model::Model;
/// use aether_model::deploy::{Previous, PublishError, PublishOptions, review};
///
/// # let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/account.yaml")).unwrap();
/// let v3 = Model::from_yaml(&yaml).unwrap();
/// let emitted = vec!["Opened".to_owned(), "Deposited".to_owned()];
/// let previous = Previous { model: &v3, emitted: &emitted };
///
/// let mut v4 = v3.clone();
/// v4.version = 4;
/// assert!(review(&v4, Some(previous), &PublishOptions::default()).is_ok());
///
/// let mut closed_removed = v4.clone();
/// closed_removed.commands = closed_removed.commands.iter()
///     .filter(|(n, _)| *n != "Close").map(|(n, c)| (n.to_owned(), c.clone())).collect();
/// let err = review(&closed_removed, Some(previous), &PublishOptions::default()).unwrap_err();
/// assert!(matches!(err, PublishError::Breaking { .. }), "{err}");
/// ```
pub fn review(
    model: &Model,
    previous: Option<Previous<'_>>,
    options: &PublishOptions,
) -> Result<Review, PublishError> {
    let compiled = check(model).map_err(PublishError::Invalid)?;
    compiled.run_examples().map_err(PublishError::Examples)?;
    let name = model.model.clone();
    let mut emitted: Vec<String> = previous.map(|p| p.emitted.to_vec()).unwrap_or_default();
    for (_, command) in model.commands.iter() {
        for e in &command.emit {
            if !emitted.contains(&e.event) {
                emitted.push(e.event.clone());
            }
        }
    }
    let mut warnings = Vec::new();
    let diff = match previous {
        None => None,
        Some(p) => {
            let current = p.model.version;
            if model.version != current.saturating_add(1) {
                return Err(PublishError::Version {
                    name,
                    given: model.version,
                    current,
                    expected: current.saturating_add(1),
                });
            }
            let missing: Vec<String> = p
                .emitted
                .iter()
                .filter(|t| model.events.get(t).is_none())
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(PublishError::Unfoldable {
                    name,
                    event_types: missing,
                });
            }
            let diff = ModelDiff::between(p.model, model);
            let breaking = diff.breaking();
            if !breaking.is_empty() {
                if !options.breaking {
                    return Err(PublishError::Breaking {
                        name,
                        changes: breaking,
                    });
                }
                warnings.extend(breaking.into_iter().map(|b| format!("breaking: {b}")));
            }
            if diff.fingerprint.changed() {
                warnings.push(format!(
                    "the state fingerprint changes ({} -> {}: {}): active actors reload their state from the log on their next message, and older snapshots are not used",
                    diff.fingerprint.from,
                    diff.fingerprint.to,
                    diff.fingerprint.reasons.join(", ")
                ));
            }
            Some(diff)
        }
    };
    if let Some(failure) = options.replay.as_ref().and_then(|r| r.failure.clone()) {
        if !options.force {
            return Err(PublishError::ReplayDiverged(failure));
        }
        warnings.push(format!("forced past a failed replay check: {failure}"));
    }
    Ok(Review {
        compiled,
        diff,
        warnings,
        emitted,
    })
}
