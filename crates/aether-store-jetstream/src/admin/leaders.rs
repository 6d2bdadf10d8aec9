//! Spreading partition leaders over the servers: the server picks a random
//! first leader for a new replicated stream, so K leaders on N servers are
//! rarely even; a stepdown naming a preferred server (nats-server ≥ 2.11)
//! moves one. The server hands over only to a follower it heard from
//! lately (else to any other), and reports a follower it has not heard from
//! as not current: so the balance waits for the partitions to settle before
//! each plan, and plans again after each round of stepdowns.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aether_core::{Error, Result};
use serde_json::{Value, json};

use super::PartitionInfo;
use crate::JetStreamEventStore;

/// How many rounds of stepdowns [`JetStreamEventStore::balance_leaders`]
/// makes at most: one round moves every leader it must when each stepdown
/// hands over to the server it names, so the others are for elections that
/// picked another server.
const BALANCE_ROUNDS: usize = 4;

/// A leader change [`JetStreamEventStore::balance_leaders`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaderMove {
    /// The partition.
    pub partition: u16,
    /// Its stream.
    pub stream: String,
    /// The leader before.
    pub from: String,
    /// The leader asked for.
    pub to: String,
    /// Whether `to` took over (checked once the partitions settled after
    /// its round); `false` when an election picked another server, which a
    /// later round then moved again.
    pub done: bool,
}

/// The leader changes that spread `partitions`' leaders evenly over the
/// servers holding them: each server leads `⌊K/N⌋` or `⌈K/N⌉` partitions it
/// holds, where that is possible, with as few changes as the greedy way
/// finds. Only current (caught up) servers are chosen. Returns (partition,
/// from, to).
pub(crate) fn plan(partitions: &[PartitionInfo]) -> Vec<(u16, String, String)> {
    let mut leader: BTreeMap<u16, String> = BTreeMap::new();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for p in partitions {
        for s in p.servers.iter().filter(|s| !p.lagging.contains(s)) {
            count.entry(s.clone()).or_insert(0);
        }
        if let Some(l) = &p.leader {
            leader.insert(p.index, l.clone());
            *count.entry(l.clone()).or_insert(0) += 1;
        }
    }
    let original = leader.clone();
    // Each round moves one partition from a most-loaded server to the least
    // loaded server holding it, when that narrows the spread; at most K
    // rounds per partition keep this finite whatever the input.
    for _ in 0..partitions.len() * partitions.len().max(1) {
        let best = partitions
            .iter()
            .filter_map(|p| {
                let from = leader.get(&p.index)?;
                let to = p
                    .servers
                    .iter()
                    .filter(|s| *s != from && !p.lagging.contains(s))
                    .min_by_key(|s| (count[*s], *s))?;
                (count[from] >= count[to] + 2).then(|| (count[from], p.index, to.clone()))
            })
            .max_by_key(|(load, index, _)| (*load, std::cmp::Reverse(*index)));
        let Some((_, index, to)) = best else { break };
        let from = leader.insert(index, to.clone()).unwrap_or_default();
        *count.get_mut(&from).expect("counted") -= 1;
        *count.get_mut(&to).expect("counted") += 1;
    }
    leader
        .into_iter()
        .filter(|(k, l)| original.get(k) != Some(l))
        .map(|(k, to)| (k, original[&k].clone(), to))
        .collect()
}

impl JetStreamEventStore {
    /// Asks the leader of partition `partition` to step down, naming the
    /// server to take over (`preferred`; any current replica when `None`).
    /// Needs nats-server ≥ 2.11 for `preferred`. Returns once the server
    /// accepted; the election follows within a moment. Nothing to do (`Ok`)
    /// when `preferred` leads it already.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a partition the namespace does not have;
    /// [`Error::Storage`] when the server refuses (a single-replica stream
    /// has no other server to lead it; a preferred server that does not
    /// hold it); [`Error::Unavailable`] when it does not answer.
    pub async fn step_down(&self, partition: u16, preferred: Option<&str>) -> Result<()> {
        let layout = self.layout();
        let part = layout
            .partitions
            .get(usize::from(partition))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "partition {partition}: the namespace has {}",
                    layout.count()
                ))
            })?;
        if let Some(server) = preferred {
            let info = crate::store::stream_info(
                &self.inner.js,
                &part.name,
                self.inner.config.request_timeout,
            )
            .await?;
            if info
                .and_then(|i| i.cluster)
                .and_then(|c| c.leader)
                .is_some_and(|l| l == server)
            {
                return Ok(());
            }
        }
        let body = match preferred {
            Some(server) => json!({"placement": {"preferred": server}}),
            None => json!({}),
        };
        let subject = format!("STREAM.LEADER.STEPDOWN.{}", part.name);
        let answer: Value = self
            .refused(|| self.inner.js.request(subject, &body))
            .await?
            .map_err(|e| {
                Error::unavailable_with(format!("asking {}'s leader to step down", part.name), e)
            })?;
        if let Some(error) = answer.get("error") {
            return Err(Error::storage(format!(
                "{}'s leader did not step down: {}",
                part.name,
                error
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            )));
        }
        Ok(())
    }

    /// Spreads the partitions' leaders evenly over the servers holding
    /// them: each server leads `⌊K/N⌋` or `⌈K/N⌉` partitions (max − min ≤ 1)
    /// where the replicas allow. Run it after creating a replicated
    /// namespace and after a server returns: the server picks leaders at
    /// random, and a returning server leads nothing.
    ///
    /// It works in rounds, at most four. Each round first waits until the
    /// partitions settle: every partition has a leader, the
    /// partitions stepped down in the round before have a new one, and every
    /// replica is caught up (a follower the leader has not heard from yet,
    /// as right after a stream is created or a leader changes, can neither be
    /// chosen nor take over). Then it plans the moves from what the servers
    /// report and makes them with stepdowns naming the new leader. It returns
    /// once a round finds nothing to move. A server that stays behind for
    /// the whole wait (offline, or catching up a long stream) is left out
    /// from then on: the others are balanced among themselves.
    ///
    /// Returns every stepdown made, in order; [`LeaderMove::done`] says
    /// whether the named server took over (when an election picked another,
    /// a later round moved it again).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when a partition has no leader for the whole
    /// wait (twice the request timeout, at least 10 s), or the leaders are
    /// still uneven after four rounds (the message lists the leaders per
    /// server; run it again); otherwise as [`Self::partition_infos`] and
    /// [`Self::step_down`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: aether_store_jetstream::JetStreamEventStore) -> aether_core::Result<()> {
    /// for m in store.balance_leaders().await? {
    ///     println!("{}: {} -> {} ({})", m.stream, m.from, m.to, if m.done { "done" } else { "elsewhere" });
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn balance_leaders(&self) -> Result<Vec<LeaderMove>> {
        // An election after a failed handover waits out a randomized
        // timeout (4–9 s on nats-server), so the wait is at least 10 s.
        let wait = (self.inner.config.request_timeout * 2).max(Duration::from_secs(10));
        let mut moves: Vec<LeaderMove> = Vec::new();
        // Where the last round's moves start in `moves`.
        let mut last = 0;
        let mut behind: BTreeSet<String> = BTreeSet::new();
        let mut rounds = 0;
        loop {
            let infos = self.settle(&moves[last..], &mut behind, wait).await?;
            for m in &mut moves[last..] {
                m.done = infos
                    .get(usize::from(m.partition))
                    .is_some_and(|p| p.leader.as_deref() == Some(m.to.as_str()));
            }
            let planned = plan(&infos);
            if planned.is_empty() {
                return Ok(moves);
            }
            if rounds == BALANCE_ROUNDS {
                return Err(Error::unavailable(format!(
                    "partition leaders still uneven after {BALANCE_ROUNDS} rounds ({} stepdowns): {}; run it again",
                    moves.len(),
                    describe(&infos)
                )));
            }
            for (k, _, to) in &planned {
                self.step_down(*k, Some(to)).await?;
            }
            rounds += 1;
            last = moves.len();
            moves.extend(planned.into_iter().map(|(k, from, to)| {
                LeaderMove {
                    partition: k,
                    stream: infos
                        .get(usize::from(k))
                        .map(|p| p.stream.clone())
                        .unwrap_or_default(),
                    from,
                    to,
                    done: false,
                }
            }));
        }
    }

    /// The partitions once settled: every one led, each partition of
    /// `stepped` led by another server than before, and every replica
    /// current except those in `behind`. Waits `wait` at most; then the
    /// replicas still behind join `behind` (left out of balancing).
    async fn settle(
        &self,
        stepped: &[LeaderMove],
        behind: &mut BTreeSet<String>,
        wait: Duration,
    ) -> Result<Vec<PartitionInfo>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let infos = self.partition_infos().await?;
            let leaderless: Vec<&str> = infos
                .iter()
                .filter(|p| p.leader.is_none())
                .map(|p| p.stream.as_str())
                .collect();
            let unmoved = stepped.iter().any(|m| {
                infos
                    .get(usize::from(m.partition))
                    .and_then(|p| p.leader.as_ref())
                    == Some(&m.from)
            });
            let lagging: BTreeSet<&String> = infos
                .iter()
                .flat_map(|p| &p.lagging)
                .filter(|s| !behind.contains(*s))
                .collect();
            if leaderless.is_empty() && !unmoved && lagging.is_empty() {
                return Ok(infos);
            }
            if tokio::time::Instant::now() >= deadline {
                if !leaderless.is_empty() {
                    return Err(Error::unavailable(format!(
                        "no leader after {wait:?} for {}: cannot balance the partition leaders",
                        leaderless.join(", ")
                    )));
                }
                // A stepdown whose election the old leader won again is
                // planned afresh; a replica still behind is left out.
                if !lagging.is_empty() {
                    tracing::warn!(
                        servers = ?lagging,
                        "not caught up after {wait:?}: balancing partition leaders without them"
                    );
                    behind.extend(lagging.into_iter().cloned());
                }
                return Ok(infos);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Leaders per server, for an error message: `n1 leads 2, n2 leads 0, …`
/// (every server holding a partition listed).
fn describe(infos: &[PartitionInfo]) -> String {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for p in infos {
        for s in &p.servers {
            count.entry(s.as_str()).or_insert(0);
        }
        if let Some(l) = &p.leader {
            *count.entry(l.as_str()).or_insert(0) += 1;
        }
    }
    count
        .iter()
        .map(|(s, n)| format!("{s} leads {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(index: u16, leader: &str, servers: &[&str]) -> PartitionInfo {
        PartitionInfo {
            index,
            stream: format!("S_P{index}"),
            leader: Some(leader.into()),
            servers: servers.iter().map(|s| s.to_string()).collect(),
            lagging: Vec::new(),
            tags: Vec::new(),
            messages: 0,
            bytes: 0,
            last_sequence: 0,
        }
    }

    fn leaders_after(parts: &[PartitionInfo]) -> BTreeMap<String, usize> {
        let moves = plan(parts);
        let mut count = BTreeMap::new();
        for p in parts {
            let l = moves
                .iter()
                .find(|(k, _, _)| *k == p.index)
                .map_or(p.leader.clone().unwrap(), |(_, _, to)| to.clone());
            *count.entry(l).or_insert(0) += 1;
        }
        count
    }

    #[test]
    fn all_leaders_on_one_server_spread_evenly() {
        let all = ["n1", "n2", "n3"];
        for k in [3u16, 4, 8, 16] {
            let parts: Vec<_> = (0..k).map(|i| part(i, "n1", &all)).collect();
            let count = leaders_after(&parts);
            let (min, max) = (
                count.values().min().copied().unwrap_or(0),
                count.values().max().copied().unwrap_or(0),
            );
            assert!(max - min <= 1 && count.len() == 3, "K = {k}: {count:?}");
        }
    }

    #[test]
    fn balanced_leaders_stay_and_lagging_servers_are_not_chosen() {
        let all = ["n1", "n2", "n3"];
        let even: Vec<_> = (0..6)
            .map(|i| part(i, all[usize::from(i) % 3], &all))
            .collect();
        assert!(plan(&even).is_empty(), "nothing to do");
        let mut lagging: Vec<_> = (0..4).map(|i| part(i, "n1", &all)).collect();
        for p in &mut lagging {
            p.lagging = vec!["n3".into()];
        }
        let moves = plan(&lagging);
        assert!(moves.iter().all(|(_, _, to)| to == "n2"), "{moves:?}");
        assert_eq!(moves.len(), 2);
        // Single-replica partitions have no other server: nothing moves.
        let r1: Vec<_> = (0..4).map(|i| part(i, "n1", &["n1"])).collect();
        assert!(plan(&r1).is_empty());
    }
}
