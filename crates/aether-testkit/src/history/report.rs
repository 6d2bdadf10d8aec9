//! [`check`] and its [`Report`].

use std::collections::BTreeMap;
use std::fmt;

use super::record::{ClaimSeen, Op, Outcome};
use super::rules::{Facts, Logs, RULES};
use super::violation::Violation;

/// What [`check`] found: counts, and every violation.
#[derive(Debug, Default)]
pub struct Report {
    /// Commands answered `Ok` (counting each id once).
    pub ok: usize,
    /// Commands with an unknown outcome at the end (never answered `Ok`).
    pub unknown: usize,
    /// Commands surely not applied (never answered `Ok`).
    pub not_applied: usize,
    /// Events checked, over all actors.
    pub events: usize,
    /// Sends recorded, retries included.
    pub sends: usize,
    /// Every broken rule, with its evidence, rule by rule.
    pub violations: Vec<Violation>,
}

impl Report {
    /// Whether no rule was broken.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

/// How many violations of each rule a report lists at most; the rest are
/// counted.
const SHOWN_PER_RULE: usize = 10;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sends, {} ok, {} unknown, {} not applied, {} events; {} violation(s)",
            self.sends,
            self.ok,
            self.unknown,
            self.not_applied,
            self.events,
            self.violations.len()
        )?;
        let mut by_rule: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
        for v in &self.violations {
            by_rule.entry(v.rule()).or_default().push(v);
        }
        for (rule, list) in by_rule {
            write!(f, "\n  {rule}: {}", list.len())?;
            for v in list.iter().take(SHOWN_PER_RULE) {
                write!(f, "\n    - {v}")?;
            }
            if list.len() > SHOWN_PER_RULE {
                write!(f, "\n    ... {} more", list.len() - SHOWN_PER_RULE)?;
            }
        }
        Ok(())
    }
}

/// Checks `ops` against every actor's log (`logs`: the actors' events, as
/// read from the store after the test), by every rule but the one that
/// needs claim observations (see [`check_with_claims`]).
pub fn check(ops: &[Op], logs: &Logs) -> Report {
    check_with_claims(ops, &[], logs)
}

/// Checks `ops` against every actor's log by every rule, `claims` being the
/// shard claims the test saw written ([`History::claims`](super::History::claims)).
pub fn check_with_claims(ops: &[Op], claims: &[ClaimSeen], logs: &Logs) -> Report {
    let facts = Facts::new(ops, claims, logs);
    let mut report = Report {
        sends: ops.len(),
        events: logs.values().map(Vec::len).sum(),
        ..Report::default()
    };
    for command in facts.commands.values() {
        match command.best.outcome {
            Outcome::Ok { .. } => report.ok += 1,
            Outcome::Unknown => report.unknown += 1,
            Outcome::NotApplied => report.not_applied += 1,
            Outcome::Rejected => {}
        }
    }
    for rule in RULES {
        report.violations.extend(rule(&facts));
    }
    report
}
