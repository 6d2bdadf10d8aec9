//! A history recorder and checker for distributed tests of the actor
//! runtime: record every command a test sends (id, actor, when issued, what
//! came back, when, from which node), read every actor's log afterwards, and
//! [`check`] the history against the logs.
//!
//! The checks (`RUNTIME.md` §6):
//!
//! 1. every command answered `Ok` has its events in the log, in exactly one
//!    contiguous version range, ending at the version the answer gave;
//! 2. no command id has events at two version ranges (nothing applied twice);
//! 3. every actor's versions are gapless from 1;
//! 4. real-time order: if the answer to `c1` came before `c2` was first
//!    sent (both `Ok`, same actor), `c1`'s events come before `c2`'s (a
//!    command id sent several times spans from its first send to its `Ok`);
//! 5. claim monotonicity: along an actor's log, the claim revisions its events
//!    were written under (metadata `aether.claim`, `"<shard>/<revision>"`)
//!    never decrease;
//!
//! and, for the promise that errors say whether the command took effect: a
//! command answered "not applied" (and never answered `Ok` on a retry) has no
//! events in the log.
//!
//! ```
//! use aether_core::{ActorId, Event, Metadata, json};
//! use aether_testkit::history::{History, Outcome, check};
//!
//! let history = History::new();
//! let actor = ActorId::new("counter-1").unwrap();
//! let op = history.issue("cmd-1", &actor);
//! history.answer(op, Outcome::Ok { version: 1 }, Some("node-a"));
//! let event = Event::new(actor.clone(), 1, "Added", json!(1))
//!     .with_metadata(Metadata::new().with_causation_id("cmd-1"));
//! let report = check(&history.ops(), &[(actor, vec![event])].into_iter().collect());
//! assert!(report.is_clean(), "{report}");
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use aether_core::{ActorId, Event};

/// The metadata key the runtime stamps the writer's claim on
/// (`"<shard>/<claim revision>"`).
pub const CLAIM_KEY: &str = aether_core::Metadata::KEY_WRITER_CLAIM;

/// What came back for a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Committed; the actor's version after it.
    Ok {
        /// The version the answer gave.
        version: u64,
    },
    /// Refused by the aggregate (nothing written).
    Rejected,
    /// Surely not applied (the command came back: overloaded, unavailable,
    /// shutting down, not the owner).
    NotApplied,
    /// No answer, or a timeout: it may have been applied.
    Unknown,
}

/// One recorded command.
#[derive(Debug, Clone)]
pub struct Op {
    /// The command id (retries reuse it: several ops may share one).
    pub command_id: String,
    /// The actor.
    pub actor: ActorId,
    /// When it was sent.
    pub issued: Instant,
    /// When the answer came (`None`: not answered yet, or never).
    pub answered: Option<Instant>,
    /// What came back (`Unknown` until answered).
    pub outcome: Outcome,
    /// The node that answered, if known.
    pub node: Option<String>,
}

/// Records the commands of a test, from many tasks at once.
#[derive(Debug, Default)]
pub struct History {
    ops: Mutex<Vec<Op>>,
}

/// A recorded command not answered yet (see [`History::answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(usize);

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that command `command_id` is sent to `actor` now.
    pub fn issue(&self, command_id: &str, actor: &ActorId) -> Ticket {
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        ops.push(Op {
            command_id: command_id.to_owned(),
            actor: actor.clone(),
            issued: Instant::now(),
            answered: None,
            outcome: Outcome::Unknown,
            node: None,
        });
        Ticket(ops.len() - 1)
    }

    /// Records the answer to `ticket`, now.
    pub fn answer(&self, ticket: Ticket, outcome: Outcome, node: Option<&str>) {
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(op) = ops.get_mut(ticket.0) {
            op.answered = Some(Instant::now());
            op.outcome = outcome;
            op.node = node.map(str::to_owned);
        }
    }

    /// Everything recorded so far.
    pub fn ops(&self) -> Vec<Op> {
        self.ops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

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
    /// Every broken rule, in words.
    pub violations: Vec<String>,
}

impl Report {
    /// Whether no rule was broken.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

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
        for v in self.violations.iter().take(20) {
            write!(f, "\n  - {v}")?;
        }
        if self.violations.len() > 20 {
            write!(f, "\n  ... {} more", self.violations.len() - 20)?;
        }
        Ok(())
    }
}

/// Where one command's events are in an actor's log.
#[derive(Debug, Clone, Copy)]
struct Range {
    first: u64,
    last: u64,
}

/// Checks `ops` against every actor's log (`logs`: the actors' events, as
/// read from the store after the test).
pub fn check(ops: &[Op], logs: &HashMap<ActorId, Vec<Event>>) -> Report {
    let mut report = Report::default();
    // Per actor: command id → the ranges its events cover.
    let mut ranges: HashMap<(&ActorId, &str), Vec<Range>> = HashMap::new();
    for (actor, events) in logs {
        report.events += events.len();
        for (i, e) in events.iter().enumerate() {
            let want = i as u64 + 1;
            if e.version != want {
                report.violations.push(format!(
                    "{actor}: version {} where {want} was due (gap or duplicate)",
                    e.version
                ));
            }
            let Some(cause) = e.metadata.causation_id() else {
                continue;
            };
            let list = ranges.entry((actor, cause)).or_default();
            match list.last_mut() {
                Some(r) if r.last + 1 == e.version => r.last = e.version,
                _ => list.push(Range {
                    first: e.version,
                    last: e.version,
                }),
            }
        }
        check_claims(actor, events, &mut report);
    }
    for ((actor, id), list) in &ranges {
        if list.len() > 1 {
            report.violations.push(format!(
                "{actor}: command {id} has events at {} version ranges (applied more than once)",
                list.len()
            ));
        }
    }
    // Per (actor, command id): the best answer it got.
    // A command id sent several times spans from its first send to its best
    // answer: a retry may find the events its first send wrote.
    let mut best: BTreeMap<(String, String), &Op> = BTreeMap::new();
    let mut first_issued: HashMap<(String, String), Instant> = HashMap::new();
    report.sends = ops.len();
    for op in ops {
        let key = (op.actor.to_string(), op.command_id.clone());
        first_issued
            .entry(key.clone())
            .and_modify(|t| *t = (*t).min(op.issued))
            .or_insert(op.issued);
        let keep = match best.get(&key) {
            None => true,
            Some(prev) => rank(&op.outcome) > rank(&prev.outcome),
        };
        if keep {
            best.insert(key, op);
        }
    }
    let mut oks: Vec<(&Op, Instant, Range)> = Vec::new();
    for op in best.values() {
        let found = ranges
            .get(&(&op.actor, op.command_id.as_str()))
            .and_then(|l| l.first().copied());
        match (&op.outcome, found) {
            (Outcome::Ok { version }, Some(r)) => {
                report.ok += 1;
                if r.last != *version {
                    report.violations.push(format!(
                        "{}: command {} answered version {version}, its events end at {}",
                        op.actor, op.command_id, r.last
                    ));
                }
                let key = (op.actor.to_string(), op.command_id.clone());
                let issued = first_issued.get(&key).copied().unwrap_or(op.issued);
                oks.push((op, issued, r));
            }
            (Outcome::Ok { version }, None) => {
                report.ok += 1;
                // A command that decided on no events has none; it must then
                // not claim a version past the log.
                let len = logs.get(&op.actor).map_or(0, |l| l.len() as u64);
                if *version > len {
                    report.violations.push(format!(
                        "{}: command {} answered Ok at version {version}, past the log ({len}): lost",
                        op.actor, op.command_id
                    ));
                }
            }
            (Outcome::NotApplied, found) => {
                report.not_applied += 1;
                if found.is_some() {
                    report.violations.push(format!(
                        "{}: command {} was answered \"not applied\" but its events are in the log",
                        op.actor, op.command_id
                    ));
                }
            }
            (Outcome::Rejected, found) => {
                if found.is_some() {
                    report.violations.push(format!(
                        "{}: command {} was rejected but its events are in the log",
                        op.actor, op.command_id
                    ));
                }
            }
            (Outcome::Unknown, _) => report.unknown += 1,
        }
    }
    // Real-time order per actor.
    let mut by_actor: HashMap<&ActorId, Vec<(&Op, Instant, Range)>> = HashMap::new();
    for (op, issued, r) in oks {
        by_actor.entry(&op.actor).or_default().push((op, issued, r));
    }
    for (actor, mut list) in by_actor {
        list.sort_by_key(|(_, issued, _)| *issued);
        // Pairs where c1 was answered before c2 was first sent: c1's events
        // must come first.
        let mut answered: Vec<(Instant, u64, &str)> = list
            .iter()
            .filter_map(|(op, _, r)| op.answered.map(|a| (a, r.first, op.command_id.as_str())))
            .collect();
        answered.sort_by_key(|(a, _, _)| *a);
        let mut max_before: Option<(u64, &str)> = None;
        let mut i = 0;
        for (op, issued, r) in &list {
            while i < answered.len() && answered[i].0 < *issued {
                if max_before.is_none_or(|(v, _)| answered[i].1 > v) {
                    max_before = Some((answered[i].1, answered[i].2));
                }
                i += 1;
            }
            if let Some((v, earlier)) = max_before
                && v >= r.first
                && earlier != op.command_id
            {
                report.violations.push(format!(
                    "{actor}: command {} was issued after {earlier} was answered, but comes \
                     first in the log (version {} ≤ {v})",
                    op.command_id, r.first
                ));
            }
        }
    }
    report
}

/// The order of answers, when one command id was sent several times.
fn rank(o: &Outcome) -> u8 {
    match o {
        Outcome::Unknown => 0,
        Outcome::NotApplied => 1,
        Outcome::Rejected => 2,
        Outcome::Ok { .. } => 3,
    }
}

/// Along `events`, the claim revision of each shard never decreases.
fn check_claims(actor: &ActorId, events: &[Event], report: &mut Report) {
    let mut last: HashMap<&str, (u64, u64)> = HashMap::new();
    for e in events {
        let Some(claim) = e.metadata.get(CLAIM_KEY) else {
            continue;
        };
        let Some((shard, rev)) = claim.split_once('/') else {
            report.violations.push(format!(
                "{actor}: malformed claim {claim:?} at {}",
                e.version
            ));
            continue;
        };
        let Ok(rev) = rev.parse::<u64>() else {
            report.violations.push(format!(
                "{actor}: malformed claim {claim:?} at {}",
                e.version
            ));
            continue;
        };
        if let Some((prev, at)) = last.get(shard)
            && rev < *prev
        {
            report.violations.push(format!(
                "{actor}: claim revision went back from {prev} (version {at}) to {rev} (version {}): \
                 a stale owner wrote after a newer one",
                e.version
            ));
        }
        last.insert(shard, (rev, e.version));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::{Metadata, json};
    use std::time::Duration;

    fn ev(actor: &ActorId, v: u64, cause: &str, claim: Option<&str>) -> Event {
        let mut m = Metadata::new().with_causation_id(cause);
        if let Some(c) = claim {
            m.insert(CLAIM_KEY, c);
        }
        Event::new(actor.clone(), v, "T", json!(v)).with_metadata(m)
    }

    #[test]
    fn a_clean_history_is_clean_and_each_rule_catches_its_breach() {
        let a = ActorId::new("a-1").unwrap();
        let h = History::new();
        let t1 = h.issue("c1", &a);
        h.answer(t1, Outcome::Ok { version: 1 }, Some("n1"));
        std::thread::sleep(Duration::from_millis(2));
        let t2 = h.issue("c2", &a);
        h.answer(t2, Outcome::Ok { version: 2 }, None);
        let t3 = h.issue("c3", &a);
        h.answer(t3, Outcome::NotApplied, None);
        let good = vec![ev(&a, 1, "c1", Some("3/10")), ev(&a, 2, "c2", Some("3/12"))];
        let logs: HashMap<_, _> = [(a.clone(), good.clone())].into_iter().collect();
        let r = check(&h.ops(), &logs);
        assert!(r.is_clean(), "{r}");
        assert_eq!((r.ok, r.not_applied, r.events), (2, 1, 2));

        // Applied twice, not-applied but present, stale claim, order, gap.
        let bad = vec![
            ev(&a, 1, "c2", Some("3/12")),
            ev(&a, 2, "c1", Some("3/10")),
            ev(&a, 3, "c2", None),
            ev(&a, 5, "c3", None),
        ];
        let logs: HashMap<_, _> = [(a.clone(), bad)].into_iter().collect();
        let r = check(&h.ops(), &logs);
        let text = r.to_string();
        for needle in [
            "more than once",
            "not applied",
            "claim revision went back",
            "comes first in the log",
            "gap or duplicate",
        ] {
            assert!(text.contains(needle), "{needle:?} not found in {text}");
        }
    }

    #[test]
    fn a_retry_that_finds_its_first_sends_events_keeps_the_first_send_time() {
        let a = ActorId::new("a-2").unwrap();
        let h = History::new();
        let t1 = h.issue("c1", &a); // written, but the answer was lost
        h.answer(t1, Outcome::Unknown, None);
        let t2 = h.issue("c2", &a);
        h.answer(t2, Outcome::Ok { version: 2 }, None);
        std::thread::sleep(Duration::from_millis(2));
        let t3 = h.issue("c1", &a); // the retry finds version 1
        h.answer(t3, Outcome::Ok { version: 1 }, None);
        let logs: HashMap<_, _> = [(
            a.clone(),
            vec![ev(&a, 1, "c1", None), ev(&a, 2, "c2", None)],
        )]
        .into_iter()
        .collect();
        let r = check(&h.ops(), &logs);
        assert!(r.is_clean(), "{r}");
        assert_eq!((r.sends, r.ok, r.unknown), (3, 2, 0));
    }
}
