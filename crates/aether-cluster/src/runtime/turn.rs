//! One turn: the commands queued for an actor, decided one after another and
//! committed together as one atomic append with one expected-version check
//! (group commit), then answered.

use std::collections::HashMap;
use std::sync::Arc;

use aether_core::aggregate::{Behavior, Context, DomainEvent};
use aether_core::{Error, Event, EventStore, ExpectedVersion, Metadata, Timestamp};
use bytes::Bytes;
use tokio::time::Instant;
use tracing::Instrument;

use super::actor::Actor;
use super::decision::{Decision, Written};
use super::dedupe::ByHash;
use super::error::AskError;
use super::message::{Answered, Batch, CommandMsg, CommandResult, Msg, Responder};
use super::outcome::{CommandOutcome, Concluded, Decided, EventIds};
use super::permits::Priority;
use super::state::read_range;
use super::type_metrics::Ended;

/// How many outcomes of retried commands an actor keeps after reading them
/// from the log, for the next copies of the same retry.
pub(crate) const RECENT_OUTCOMES: usize = 16;

/// Runs aggregate code, a panic in it becoming the command's error: a bug
/// in one aggregate does not take the runtime (or the caller running the
/// actor) down with it.
fn guarded<T>(doing: &str, f: impl FnOnce() -> T) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-text panic".into());
        Error::invalid_input(format!("the aggregate panicked {doing}: {what}"))
    })
}

/// An upper bound of an event's stored size, without encoding it: its
/// data's text, its type and metadata, and room for the fixed fields (id,
/// actor, version, timestamp, field names) and escapes.
fn size_bound(e: &Event) -> usize {
    let metadata: usize = e.metadata.iter().map(|(k, v)| k.len() + v.len() + 8).sum();
    e.data.as_str().len()
        + 2 * (e.event_type.len() + e.actor_id.as_str().len())
        + 2 * metadata
        + 256
}

impl<A: Behavior> Actor<A> {
    /// Sends the result of a command: to its waiting caller, to the caller
    /// running the actor itself, or (a tell) nowhere but the counts.
    fn answer(&mut self, reply: Option<Responder<A>>, result: CommandResult<A>) {
        self.answer_spent(reply, result, None);
    }

    /// [`Self::answer`], handing `spent` (the command's box, done with) to
    /// a caller waiting on a channel, to free it on its own task.
    fn answer_spent(
        &mut self,
        reply: Option<Responder<A>>,
        result: CommandResult<A>,
        spent: Option<Box<CommandMsg<A>>>,
    ) {
        let how = match &result {
            Ok(c) if c.outcome.deduplicated => Ended::Deduplicated,
            Ok(_) => Ended::Ok,
            Err(AskError::Rejected(_)) => Ended::Rejected,
            Err(AskError::Timeout { .. }) => Ended::Unknown,
            Err(_) => Ended::Failed,
        };
        self.host.metrics.ended(reply.is_some(), how);
        match reply {
            Some(Responder::Channel(tx)) => {
                let _ = tx.send(Answered { result, spent });
            }
            Some(Responder::Inline) => self.inline = Some(result),
            None => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "a told command did not take effect");
                }
            }
        }
    }

    /// Runs one turn over `batch` (commands in mailbox order), then the
    /// snapshot the policy asks for, if any (after the answers: off their
    /// latency).
    pub(crate) async fn turn(&mut self, batch: Batch<A>) {
        let started = Instant::now();
        let span = tracing::debug_span!("aether.runtime.turn", commands = batch.len());
        let base = self.activation.as_ref().map_or(0, |a| a.version);
        self.turn_inner(batch, started).instrument(span).await;
        self.host
            .metrics
            .turn_seconds
            .record(started.elapsed().as_secs_f64());
        if let Some(act) = self.activation.as_mut()
            && self.host.snapshots.is_some()
            && self
                .host
                .snapshot_policy
                .should_snapshot(act.snapshot_version, base, act.version)
            && let Err(e) = Box::pin(act.snapshot(self.host.sources(), &self.id)).await
        {
            // The commit stands; the next load replays more.
            tracing::warn!(error = %e, "snapshot failed");
        }
    }

    // The rare paths (a retried id, a conflict, a snapshot) are boxed: the
    // future of every ask holds this one, and stays small.
    async fn turn_inner(&mut self, batch: Batch<A>, now: Instant) {
        let mut live = self.screen(batch, now).await;
        let retries = self.host.config.conflict_retries;
        let fence = self.host.node.fence.clone();
        let mut attempt = 0;
        while !live.is_empty() {
            attempt += 1;
            // In a cluster: only while this node serves the actor's shard,
            // and every event says who wrote it under which claim.
            let lease = match &fence {
                None => None,
                Some(f) => match f.check(&self.id) {
                    Some(l) => Some(l),
                    None => return self.not_owner(live),
                },
            };
            let Some(act) = self.activation.as_mut() else {
                return;
            };
            let base = act.version;
            // What every event says beside its command's metadata: who
            // wrote it under which claim, and which definition decided it.
            let claim = fence.as_deref().zip(lease).map(|(f, l)| f.stamp(l));
            let stamp = match (claim, A::stamp(&act.def)) {
                (Some(claim), Some(def)) => Some(claim.metadata().clone().merged(def)),
                (Some(claim), None) => Some(claim.metadata().clone()),
                (None, def) => def.cloned(),
            };
            let mut poisoned = false;
            let mut decisions = std::mem::take(&mut self.scratch.decisions);
            let (events, carried) = decide(
                act,
                &self.id,
                &self.host.config.group_commit,
                &mut live,
                stamp.as_ref(),
                (&mut decisions, &mut self.scratch.writers),
                &mut poisoned,
            );
            if poisoned {
                // Reloaded before the next turn (the commit below stands).
                self.reload_after_turn = true;
            }
            // Commands over the limits start the next turn.
            for c in carried.into_iter().rev() {
                self.backlog.push_front(Msg::Command(c));
            }
            if events.is_empty() {
                return self.conclude(live, decisions, base, base, false);
            }
            self.host.metrics.batch_commands.record(live.len() as f64);
            let appending = Instant::now();
            let appended = self
                .host
                .store
                .append_batch(&self.id, ExpectedVersion::Exact(base), events)
                .await;
            self.host
                .metrics
                .append_seconds
                .record(appending.elapsed().as_secs_f64());
            match appended {
                Ok(version) => {
                    self.host.metrics.commits.increment(1);
                    // The lease lapsed while the append was out (a pause, a
                    // partition): the commit stands, but it is not
                    // acknowledged as this node's; a retry finds it.
                    let late = fence.as_ref().is_some_and(|f| !f.holds());
                    return self.conclude(live, decisions, base, version, late);
                }
                Err(Error::VersionConflict(conflict)) if attempt < retries => {
                    // Someone else wrote: catch up from the log and decide
                    // again (never a blind retry). In a cluster, first make
                    // sure the shard is still ours: a stale owner must not
                    // catch up and win.
                    metrics::counter!("aether_runtime_conflicts_total", "type" => self.host.name.clone())
                        .increment(1);
                    tracing::debug!(%conflict, attempt, "conflict; reloading and deciding again");
                    self.activation = None;
                    if let (Some(f), Some(l)) = (&fence, lease)
                        && !Box::pin(f.confirm(l)).await
                    {
                        tracing::info!("the shard's claim is no longer ours; not deciding again");
                        return self.not_owner(live);
                    }
                    if !Box::pin(self.reload(&mut live)).await {
                        return;
                    }
                    live = self.screen(live, Instant::now()).await;
                }
                Err(e) => return self.failed(live, decisions, &e),
            }
        }
    }

    /// Drops the commands whose caller gave up; answers retried ids from
    /// the log (one read per id, however many copies came); returns the
    /// rest in order. `now`: the turn's start.
    async fn screen(&mut self, batch: Batch<A>, now: Instant) -> Batch<A> {
        // The usual turn: every command is live and new; kept as it came.
        let plain = batch.iter().all(|c| {
            c.deadline > now
                && self.activation.as_ref().is_none_or(|a| {
                    a.recent
                        .get_hashed(&c.envelope.command_id, c.id_hash)
                        .is_none()
                })
        });
        if plain {
            if let Some(act) = &self.activation {
                for c in &batch {
                    if act.recent.was_evicted_hashed(c.id_hash) {
                        metrics::counter!("aether_runtime_dedupe_evicted_then_seen_total", "type" => self.host.name.clone())
                            .increment(1);
                    }
                }
            }
            return batch;
        }
        let mut live = Vec::with_capacity(batch.len());
        // Retried ids, in the order first seen, with every copy.
        let mut hits: Vec<(u64, u64, Batch<A>)> = Vec::new();
        for c in batch {
            if c.deadline <= now {
                metrics::counter!("aether_runtime_expired_total", "type" => self.host.name.clone())
                    .increment(1);
                continue;
            }
            let Some(act) = &self.activation else {
                live.push(c);
                continue;
            };
            let id = &c.envelope.command_id;
            if let Some((first, last)) = act.recent.get_hashed(id, c.id_hash) {
                match hits
                    .iter_mut()
                    .find(|(_, _, copies)| copies[0].envelope.command_id == *id)
                {
                    Some((_, _, copies)) => copies.push(c),
                    None => hits.push((first, last, vec![c])),
                }
                continue;
            }
            if act.recent.was_evicted_hashed(c.id_hash) {
                metrics::counter!("aether_runtime_dedupe_evicted_then_seen_total", "type" => self.host.name.clone())
                    .increment(1);
            }
            live.push(c);
        }
        for (first, last, copies) in hits {
            Box::pin(self.recorded(copies, first, last)).await;
        }
        live
    }

    /// Answers the copies of a retried command with what it wrote the first
    /// time: from the few outcomes read lately, else from the log.
    async fn recorded(&mut self, copies: Batch<A>, first: u64, last: u64) {
        metrics::counter!("aether_runtime_dedupe_hits_total", "type" => self.host.name.clone())
            .increment(copies.len() as u64);
        let command_id = copies[0].envelope.command_id.clone();
        let cached = self
            .outcomes
            .iter()
            .find(|(id, _, _)| *id == command_id)
            .filter(|(_, v, _)| *v == last)
            .map(|(_, _, events)| events.clone());
        let read = match cached {
            Some(events) => Ok(events),
            None => {
                tracing::debug!(%command_id, first, last, "a retried command answered from the log");
                let def = self
                    .activation
                    .as_ref()
                    .map_or_else(|| self.host.current().0, |a| a.def.clone());
                let read = read_range::<A>(self.host.sources(), &def, &self.id, first, last).await;
                if let Ok(events) = &read {
                    if self.outcomes.len() == RECENT_OUTCOMES {
                        self.outcomes.pop_front();
                    }
                    self.outcomes
                        .push_back((command_id.clone(), last, events.clone()));
                }
                read
            }
        };
        for c in copies {
            let result = match &read {
                Ok(events) => {
                    Ok(CommandOutcome::new(command_id.clone(), last, events.clone(), true).into())
                }
                Err(e) => {
                    // It did take effect; only its events cannot be shown now.
                    tracing::warn!(error = %e, "reading a recorded outcome failed");
                    Err(AskError::Timeout {
                        command_id: command_id.clone(),
                    })
                }
            };
            self.answer(c.reply, result);
        }
    }

    /// Reloads after a conflict (under a recovery permit); on failure
    /// answers `live` (nothing was applied) and returns `false`.
    async fn reload(&mut self, live: &mut Batch<A>) -> bool {
        let permit = self.host.node.permits.acquire(Priority::Caller).await;
        let loaded =
            super::state::Activation::load(self.host.sources(), &self.id, self.host.current())
                .await;
        drop(permit);
        match loaded {
            Ok(a) => {
                self.activation = Some(a);
                true
            }
            Err(e) => {
                for c in live.drain(..) {
                    self.answer(
                        c.reply,
                        Err(AskError::Unavailable {
                            command: Box::new(c.envelope),
                            cause: e.clone(),
                        }),
                    );
                }
                // The next message reloads (or ends the activation).
                false
            }
        }
    }

    /// Answers `live` with `NotOwner` (not applied: this node does not
    /// serve the actor's shard now); the state (still the log's: nothing
    /// was decided) is kept for a handoff, and reloaded should the node
    /// serve the actor again.
    fn not_owner(&mut self, live: Batch<A>) {
        metrics::counter!("aether_runtime_not_owner_total", "type" => self.host.name.clone())
            .increment(live.len() as u64);
        if let Some(a) = self.activation.as_mut() {
            a.fenced = true;
        }
        for c in live {
            self.answer(
                c.reply,
                Err(AskError::NotOwner {
                    command: Box::new(c.envelope),
                }),
            );
        }
    }

    /// The turn committed (or had nothing to commit): remember and answer
    /// (`late`: the node's lease lapsed during the commit, so what would be
    /// `Ok` is answered `Timeout`, outcome unknown to the caller).
    fn conclude(
        &mut self,
        live: Batch<A>,
        mut decisions: Vec<Decision<A>>,
        base: u64,
        version: u64,
        late: bool,
    ) {
        if let Some(act) = self.activation.as_mut() {
            debug_assert_eq!(act.version, version);
            let mut evicted = 0;
            for (c, d) in live.iter().zip(&decisions) {
                if let Decision::Events(w) = d {
                    let (first, last) = w.events.versions();
                    evicted += act.recent.record_hashed(
                        c.envelope.command_id.clone(),
                        c.id_hash,
                        first,
                        last,
                    );
                }
            }
            if evicted > 0 {
                self.host.metrics.dedupe_evicted.increment(evicted);
            }
        }
        // The events of commands delivered twice in the turn, for the second.
        let mut written: HashMap<usize, (Decided<A::Event>, _)> = HashMap::new();
        for d in &decisions {
            if let Decision::Same(i) = d
                && let Some(Decision::Events(w)) = decisions.get(*i)
            {
                written
                    .entry(*i)
                    .or_insert_with(|| (w.events.clone(), w.encoded.clone()));
            }
        }
        for (c, d) in live.into_iter().zip(decisions.drain(..)) {
            let command_id = c.envelope.command_id.clone();
            let result = match d {
                Decision::Events(w) => {
                    Ok(Concluded::decided(command_id, w.events, false, w.encoded))
                }
                Decision::Same(i) => Ok(match written.get(&i).cloned() {
                    Some((events, stored)) => Concluded::decided(command_id, events, true, stored),
                    None => CommandOutcome::new(command_id, base, Vec::new(), true).into(),
                }),
                Decision::Nothing(at) => {
                    Ok(CommandOutcome::new(command_id, at, Vec::new(), false).into())
                }
                Decision::Rejected(e) => Err(AskError::Rejected(e)),
                // Handed back with its error (not applied): nothing to drop.
                Decision::Invalid(cause) => {
                    let command = Box::new(c.envelope);
                    self.answer(c.reply, Err(AskError::Unavailable { command, cause }));
                    continue;
                }
            };
            let result = match result {
                Ok(c) if late => Err(AskError::Timeout {
                    command_id: c.outcome.command_id,
                }),
                other => other,
            };
            // The command's box goes back to its caller (`Answered`).
            let mut c = c;
            let reply = c.reply.take();
            self.answer_spent(reply, result, Some(c));
        }
        self.scratch.decisions = decisions;
    }

    /// The append failed. Only `Unavailable` leaves the outcome open (the
    /// store may have stored it): those commands get `Timeout`; every other
    /// failure stored nothing, and the commands come back. The state may
    /// hold the turn's events: it is reloaded before the next turn.
    fn failed(&mut self, live: Batch<A>, mut decisions: Vec<Decision<A>>, e: &Error) {
        let unknown = matches!(e, Error::Unavailable { .. });
        tracing::debug!(error = %e, unknown, "commit failed");
        metrics::counter!("aether_runtime_commit_failures_total", "type" => self.host.name.clone())
            .increment(1);
        self.activation = None;
        for (c, d) in live.into_iter().zip(decisions.drain(..)) {
            let wrote = matches!(d, Decision::Events(_) | Decision::Same(_));
            let result = if wrote && unknown {
                Err(AskError::Timeout {
                    command_id: c.envelope.command_id.clone(),
                })
            } else {
                let cause = match d {
                    Decision::Invalid(cause) => cause,
                    _ => e.clone(),
                };
                Err(AskError::Unavailable {
                    command: Box::new(c.envelope),
                    cause,
                })
            };
            self.answer(c.reply, result);
        }
        self.scratch.decisions = decisions;
    }
}

/// Decides `live` in order on the actor's state, applying each command's
/// events to it; stops at the group-commit limits (the rest is returned to
/// run in the next turn). Fills `decisions` (one per command left in
/// `live`; the buffers are the actor's, empty); returns the events to append
/// and the commands carried over.
fn decide<A: Behavior>(
    act: &mut super::state::Activation<A>,
    id: &aether_core::ActorId,
    limits: &super::config::GroupCommit,
    live: &mut Batch<A>,
    stamp: Option<&Metadata>,
    (decisions, writers): (&mut Vec<Decision<A>>, &mut ByHash<usize>),
    poisoned: &mut bool,
) -> (Vec<Event>, Batch<A>) {
    decisions.clear();
    decisions.reserve(live.len());
    let mut events: Vec<Event> = Vec::with_capacity(live.len());
    let mut bytes = 0usize;
    // The first command to write for each id hash so far (only looked at
    // with more than one command in the turn).
    let several = live.len() > 1;
    writers.clear();
    if several {
        writers.reserve(live.len());
    }
    let mut stop = live.len();
    // When the turn's events were made: one clock reading for the turn (they
    // are committed together), taken at its first event.
    let mut now: Option<Timestamp> = None;
    for (i, c) in live.iter().enumerate() {
        if several
            && let Some(leader) = leader(
                writers,
                c.id_hash,
                i,
                |j| live[j].envelope.command_id == c.envelope.command_id,
                |j| matches!(decisions[j], Decision::Events(_)),
            )
        {
            decisions.push(Decision::Same(leader));
            continue;
        }
        let context = Context::new(id, &c.envelope.command_id, &c.envelope.metadata);
        let (decided, next) = match guarded("deciding", || {
            A::decide_next(&act.def, &act.state, &c.envelope.command, &context)
        }) {
            Err(bug) => {
                decisions.push(Decision::Invalid(bug));
                continue;
            }
            Ok(Err(e)) => {
                decisions.push(Decision::Rejected(e));
                continue;
            }
            Ok(Ok((d, _))) if d.is_empty() => {
                decisions.push(Decision::Nothing(act.version));
                continue;
            }
            Ok(Ok(d)) => d,
        };
        let Some(next_version) = act.version.checked_add(decided.len() as u64) else {
            decisions.push(Decision::Invalid(Error::invalid_input(format!(
                "{} new event(s) after version {} would run past the largest version",
                decided.len(),
                act.version
            ))));
            continue;
        };
        // One metadata, shared by the command's events, and the turn's
        // clock reading; encoded straight into the turn's batch (taken out
        // again if the command does not fit). Their envelopes are made by
        // the caller (`Concluded`).
        let metadata = match stamp {
            Some(stamp) => c.envelope.event_metadata_with(stamp),
            None => c.envelope.event_metadata(),
        };
        let timestamp = *now.get_or_insert_with(Timestamp::now);
        let start = events.len();
        let first_version = act.version + 1;
        let ids = EventIds::fresh(timestamp, decided.len());
        let put = decided
            .iter()
            .zip(ids.iter())
            .zip(first_version..)
            .try_for_each(|((e, event_id), version)| {
                events.push(Event::from_parts(
                    event_id,
                    id.clone(),
                    version,
                    e.event_type(),
                    e.to_data()?,
                    metadata.clone(),
                    timestamp,
                ));
                Ok::<_, Error>(())
            });
        if let Err(e) = put {
            events.truncate(start);
            decisions.push(Decision::Invalid(e));
            continue;
        }
        let stored = &events[start..];
        // Encoded here only for a routed caller's reply (once: the reply is
        // built from these bytes).
        let encoded = if c.routed {
            let encoded: Result<Vec<Bytes>, Error> = stored
                .iter()
                .map(|e| e.to_json_bytes().map(Bytes::from))
                .collect();
            match encoded {
                Ok(b) => Some(b),
                Err(e) => {
                    events.truncate(start);
                    decisions.push(Decision::Invalid(e));
                    continue;
                }
            }
        } else {
            None
        };
        // The byte limit only matters with more than one command in the
        // turn: their encoded size, or a bound on it from the data's text.
        let size: usize = match &encoded {
            Some(b) => b.iter().map(Bytes::len).sum(),
            None if several => stored.iter().map(size_bound).sum(),
            None => 0,
        };
        if start > 0 && (events.len() > limits.max_events || bytes + size > limits.max_bytes) {
            events.truncate(start);
            stop = i;
            break;
        }
        bytes += size;
        let applied = match next {
            // Folded as it decided.
            Some(next) => {
                act.state = next;
                Ok(())
            }
            None => guarded("applying an event", || {
                decided
                    .iter()
                    .try_for_each(|e| A::evolve(&act.def, &mut act.state, e))
            })
            .and_then(|folded| folded),
        };
        if let Err(bug) = applied {
            // The state holds part of this command's events: the turn
            // commits the commands before it, and the state is reloaded.
            events.truncate(start);
            decisions.push(Decision::Invalid(bug));
            *poisoned = true;
            stop = i + 1;
            break;
        }
        act.version = next_version;
        if several {
            writers.entry(c.id_hash).or_insert(i);
        }
        decisions.push(Decision::Events(Written {
            events: Decided {
                events: decided,
                ids,
                first_version,
                metadata,
                timestamp,
            },
            encoded: encoded.filter(|_| c.routed).map(Arc::from),
        }));
    }
    let carried = live.split_off(stop);
    (events, carried)
}

/// The command before `i` in the turn that wrote for the id of command
/// `i` (of hash `h`), if any. `writers` holds the first to write under each
/// hash; `same(j)`: command `j` has the same id; `wrote(j)`: it wrote. Two
/// ids of one 64-bit hash are told apart by a scan of those that wrote.
fn leader(
    writers: &ByHash<usize>,
    h: u64,
    i: usize,
    same: impl Fn(usize) -> bool,
    wrote: impl Fn(usize) -> bool,
) -> Option<usize> {
    let first = *writers.get(&h)?;
    if same(first) {
        return Some(first);
    }
    (first + 1..i).find(|&j| wrote(j) && same(j))
}

#[cfg(test)]
mod tests {
    use super::{ByHash, leader};

    /// A retried id is matched with the command that wrote for it, also
    /// when another id of the same hash wrote first.
    #[test]
    fn a_command_written_twice_in_a_turn_finds_its_first_writer_past_a_hash_collision() {
        // Commands 0..5: ids a, b, a, c, b (a and b share a hash; 3 did not write).
        let ids = ["a", "b", "a", "c", "b"];
        let hashes = [7u64, 7, 7, 9, 7];
        let wrote = [true, true, false, false, false];
        let mut writers = ByHash::default();
        writers.insert(7, 0);
        let find = |i: usize| leader(&writers, hashes[i], i, |j| ids[j] == ids[i], |j| wrote[j]);
        assert_eq!(find(2), Some(0));
        assert_eq!(find(4), Some(1));
        assert_eq!(find(3), None);
        // An id of a known hash that no earlier command wrote for.
        let ids = ["a", "z"];
        let find = |i: usize| leader(&writers, 7, i, |j| ids[j] == ids[i], |_| true);
        assert_eq!(find(1), None);
    }

    use aether_core::{ActorId, Event, Metadata, json};

    /// The group-commit byte budget counts events by a bound, never below
    /// what they encode to.
    #[test]
    fn the_size_bound_is_never_below_the_encoded_size() {
        let actor = ActorId::with_type("a \"quoted\" type", "id\twith\ttabs").unwrap();
        let datas = [
            json!(null),
            json!({"amount": 5}),
            json!({"text": "x".repeat(10_000), "nested": [1, 2, {"k": "\u{7}\"\\"}]}),
        ];
        for data in datas {
            let mut meta = Metadata::new()
                .with_correlation_id("c\"1")
                .with_user_id("u\n");
            meta.insert("aether.node", "n1");
            let e = Event::new(actor.clone(), 7, "Some\"Type", data).with_metadata(meta);
            let encoded = e.to_json_bytes().unwrap().len();
            assert!(
                super::size_bound(&e) >= encoded,
                "{} < {encoded}",
                super::size_bound(&e)
            );
        }
    }
}
