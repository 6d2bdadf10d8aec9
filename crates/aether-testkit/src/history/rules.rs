//! The checker's rules, one function each, over [`Facts`] derived once from
//! the recorded history and the logs.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use aether_core::{ActorId, Event};

use super::CLAIM_KEY;
use super::record::{ClaimSeen, Op, Outcome};
use super::violation::{VersionRange, Violation};

/// Every actor's log, as read from the store after the test.
pub(crate) type Logs = HashMap<ActorId, Vec<Event>>;

/// One command id sent to one actor (perhaps several times).
#[derive(Debug)]
pub(crate) struct Command<'a> {
    /// Its best answer (see [`Outcome::rank`]).
    pub(crate) best: &'a Op,
    /// When it was first sent: a retry may find the events of its first send.
    pub(crate) first_issued: Instant,
}

/// What the rules look at.
#[derive(Debug)]
pub(crate) struct Facts<'a> {
    /// The logs, by actor, in actor order.
    pub(crate) logs: BTreeMap<&'a ActorId, &'a [Event]>,
    /// Per (actor, command id): the version ranges its events cover.
    pub(crate) ranges: BTreeMap<(&'a ActorId, &'a str), Vec<VersionRange>>,
    /// Per (actor, command id): what it was answered, when it was first sent.
    pub(crate) commands: BTreeMap<(&'a ActorId, &'a str), Command<'a>>,
    /// The shard claims the test saw written.
    pub(crate) claims: &'a [ClaimSeen],
}

impl<'a> Facts<'a> {
    pub(crate) fn new(ops: &'a [Op], claims: &'a [ClaimSeen], logs: &'a Logs) -> Self {
        let logs: BTreeMap<_, _> = logs
            .iter()
            .map(|(actor, events)| (actor, events.as_slice()))
            .collect();
        let mut ranges: BTreeMap<(&ActorId, &str), Vec<VersionRange>> = BTreeMap::new();
        for (&actor, events) in &logs {
            for e in *events {
                let Some(cause) = e.metadata.causation_id() else {
                    continue;
                };
                let list = ranges.entry((actor, cause)).or_default();
                match list.last_mut() {
                    Some(r) if r.last + 1 == e.version => r.last = e.version,
                    _ => list.push(VersionRange {
                        first: e.version,
                        last: e.version,
                    }),
                }
            }
        }
        let mut commands: BTreeMap<(&ActorId, &str), Command<'a>> = BTreeMap::new();
        for op in ops {
            let key = (&op.actor, op.command_id.as_str());
            commands
                .entry(key)
                .and_modify(|c| {
                    c.first_issued = c.first_issued.min(op.issued);
                    if op.outcome.rank() > c.best.outcome.rank() {
                        c.best = op;
                    }
                })
                .or_insert(Command {
                    best: op,
                    first_issued: op.issued,
                });
        }
        Facts {
            logs,
            ranges,
            commands,
            claims,
        }
    }

    /// Where the events of `command_id` for `actor` are (the first range).
    fn found(&self, actor: &ActorId, command_id: &str) -> Option<VersionRange> {
        self.ranges
            .get(&(actor, command_id))
            .and_then(|l| l.first().copied())
    }

    fn log(&self, actor: &ActorId) -> &'a [Event] {
        self.logs.get(actor).copied().unwrap_or_default()
    }
}

/// Rule 1: every command answered `Ok` has its events in the log, ending at
/// the version the answer gave; one that decided no events answers a
/// version not past the log.
pub(crate) fn ok_in_log(facts: &Facts<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (&(actor, id), command) in &facts.commands {
        let Outcome::Ok { version } = command.best.outcome else {
            continue;
        };
        let found = facts.found(actor, id);
        let log_len = facts.log(actor).len() as u64;
        let broken = match found {
            Some(r) => r.last != version,
            None => version > log_len,
        };
        if broken {
            out.push(Violation::OkNotInLog {
                actor: command.best.actor.clone(),
                command_id: id.to_owned(),
                answered: version,
                found,
                log_len,
            });
        }
    }
    out
}

/// Rule 2: no command id has events at two version ranges.
pub(crate) fn applied_once(facts: &Facts<'_>) -> Vec<Violation> {
    facts
        .ranges
        .iter()
        .filter(|(_, list)| list.len() > 1)
        .map(|(&(actor, id), list)| Violation::AppliedTwice {
            actor: actor.clone(),
            command_id: id.to_owned(),
            ranges: list.clone(),
        })
        .collect()
}

/// Rule 3: every actor's versions are gapless from 1. After a break the
/// count resumes from the version found, so one gap is one violation.
pub(crate) fn versions_gapless(facts: &Facts<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (&actor, events) in &facts.logs {
        let mut expected = 1;
        for e in *events {
            if e.version != expected {
                out.push(Violation::VersionGap {
                    actor: actor.clone(),
                    expected,
                    found: e.version,
                });
            }
            expected = e.version.max(expected) + 1;
        }
    }
    out
}

/// An `Ok` command with events, for the real-time order.
#[derive(Debug, Clone, Copy)]
struct Placed<'a> {
    id: &'a str,
    first_issued: Instant,
    answered: Option<Instant>,
    /// Where its events start.
    first: u64,
}

/// Rule 4: real-time order. If `c1` was answered `Ok` before `c2` was first
/// sent (same actor, both `Ok` with events), `c1`'s events come first.
pub(crate) fn real_time_order(facts: &Facts<'_>) -> Vec<Violation> {
    let mut by_actor: BTreeMap<&ActorId, Vec<Placed<'_>>> = BTreeMap::new();
    for (&(actor, id), command) in &facts.commands {
        if !matches!(command.best.outcome, Outcome::Ok { .. }) {
            continue;
        }
        if let Some(r) = facts.found(actor, id) {
            by_actor.entry(actor).or_default().push(Placed {
                id,
                first_issued: command.first_issued,
                answered: command.best.answered,
                first: r.first,
            });
        }
    }
    let mut out = Vec::new();
    for (actor, mut by_send) in by_actor {
        by_send.sort_by_key(|p| p.first_issued);
        let mut by_answer: Vec<(Instant, Placed<'_>)> = by_send
            .iter()
            .filter_map(|p| p.answered.map(|a| (a, *p)))
            .collect();
        by_answer.sort_by_key(|(a, _)| *a);
        // Sweeping by send time: of the commands answered before this one
        // was sent, the one placed latest in the log.
        let mut latest_before: Option<Placed<'_>> = None;
        let mut answered = by_answer.iter().peekable();
        for later in &by_send {
            while let Some((_, earlier)) = answered.next_if(|(a, _)| *a < later.first_issued) {
                if latest_before.is_none_or(|l| earlier.first > l.first) {
                    latest_before = Some(*earlier);
                }
            }
            if let Some(earlier) = latest_before
                && earlier.first >= later.first
                && earlier.id != later.id
            {
                out.push(Violation::OutOfOrder {
                    actor: actor.clone(),
                    earlier: earlier.id.to_owned(),
                    earlier_at: earlier.first,
                    later: later.id.to_owned(),
                    later_at: later.first,
                });
            }
        }
    }
    out
}

/// `"<shard>/<revision>"`, split.
fn parse_claim(claim: &str) -> Option<(&str, u64)> {
    let (shard, rev) = claim.split_once('/')?;
    Some((shard, rev.parse().ok()?))
}

/// Rule 5: along each actor's log, the claim revision of each shard never
/// decreases.
pub(crate) fn claims_monotonic(facts: &Facts<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (&actor, events) in &facts.logs {
        let mut last: HashMap<&str, (u64, u64)> = HashMap::new();
        for e in *events {
            let Some((shard, rev)) = e.metadata.get(CLAIM_KEY).and_then(parse_claim) else {
                continue;
            };
            if let Some(&(from, from_version)) = last.get(shard)
                && rev < from
            {
                out.push(Violation::ClaimWentBack {
                    actor: actor.clone(),
                    shard: shard.to_owned(),
                    from,
                    from_version,
                    to: rev,
                    at_version: e.version,
                });
            }
            last.insert(shard, (rev, e.version));
        }
    }
    out
}

/// Rule 6: every claim stamp reads `"<shard>/<revision>"`.
pub(crate) fn claims_well_formed(facts: &Facts<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (&actor, events) in &facts.logs {
        for e in *events {
            if let Some(claim) = e.metadata.get(CLAIM_KEY)
                && parse_claim(claim).is_none()
            {
                out.push(Violation::MalformedClaim {
                    actor: actor.clone(),
                    version: e.version,
                    claim: claim.to_owned(),
                });
            }
        }
    }
    out
}

/// Rule 7: no `Ok` from a superseded owner. A command answered `Ok` whose
/// events carry claim `shard/r` breaks it if, before the command was first
/// sent, the test had seen another node claim the shard at a revision above
/// `r`.
///
/// Only a supersession seen before the first send is certain to precede the
/// node's reply (the test sees claims after they are written, and replies
/// after they are sent), so this is the part of "no `Ok` from a node whose
/// claim was superseded at reply time" a test can check without false
/// alarms. Without claim observations it checks nothing.
pub(crate) fn no_ok_from_superseded_owner(facts: &Facts<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    if facts.claims.is_empty() {
        return out;
    }
    for (&(actor, id), command) in &facts.commands {
        if !matches!(command.best.outcome, Outcome::Ok { .. }) {
            continue;
        }
        let Some(range) = facts.found(actor, id) else {
            continue;
        };
        let Some(event) = facts.log(actor).iter().find(|e| e.version == range.first) else {
            continue;
        };
        let Some((shard, revision)) = event.metadata.get(CLAIM_KEY).and_then(parse_claim) else {
            continue;
        };
        let Ok(shard) = shard.parse::<u32>() else {
            continue;
        };
        let Some(writer) = event
            .metadata
            .writer_node()
            .or(command.best.node.as_deref())
        else {
            continue;
        };
        let newer = facts
            .claims
            .iter()
            .filter(|c| {
                c.shard == shard
                    && c.revision > revision
                    && c.owner != writer
                    && c.seen < command.first_issued
            })
            .min_by_key(|c| c.seen);
        if let Some(newer) = newer {
            out.push(Violation::OkFromSupersededOwner {
                actor: command.best.actor.clone(),
                command_id: id.to_owned(),
                writer: writer.to_owned(),
                shard,
                revision,
                superseded_by: newer.revision,
                new_owner: newer.owner.clone(),
            });
        }
    }
    out
}

/// Rule 8: a command that surely did not take effect (its best answer is
/// "not applied" or a rejection) has no events in the log.
pub(crate) fn refused_not_in_log(facts: &Facts<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (&(actor, id), command) in &facts.commands {
        if !matches!(
            command.best.outcome,
            Outcome::NotApplied | Outcome::Rejected
        ) {
            continue;
        }
        if let Some(found) = facts.found(actor, id) {
            out.push(Violation::RefusedButInLog {
                actor: command.best.actor.clone(),
                command_id: id.to_owned(),
                outcome: command.best.outcome.clone(),
                found,
            });
        }
    }
    out
}

/// Every rule, in the order of the module docs.
pub(crate) const RULES: [fn(&Facts<'_>) -> Vec<Violation>; 8] = [
    ok_in_log,
    applied_once,
    versions_gapless,
    real_time_order,
    claims_monotonic,
    claims_well_formed,
    no_ok_from_superseded_owner,
    refused_not_in_log,
];
