//! Spreading partition leaders over the servers: the server picks a random
//! first leader for a new replicated stream, so K leaders on N servers are
//! rarely even; a stepdown naming a preferred server (nats-server ≥ 2.11)
//! moves one.

use std::collections::BTreeMap;
use std::time::Duration;

use aether_core::{Error, Result};
use serde_json::{Value, json};

use super::PartitionInfo;
use crate::JetStreamEventStore;

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
    /// Whether `to` leads it now (checked after the moves; an election may
    /// also have picked another server).
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
            .refused(self.inner.js.request(subject, &body))
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
    /// them (each server leading `⌊K/N⌋` or `⌈K/N⌉` where the replicas
    /// allow), by stepdowns naming the new leader; waits until they lead
    /// (up to twice the request timeout) and returns the moves made. Run it
    /// after creating a replicated namespace and after a server returns:
    /// the server picks leaders at random.
    ///
    /// # Errors
    ///
    /// As [`Self::partition_infos`] and [`Self::step_down`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: aether_store_jetstream::JetStreamEventStore) -> aether_core::Result<()> {
    /// for m in store.balance_leaders().await? {
    ///     println!("{}: {} -> {} ({})", m.stream, m.from, m.to, if m.done { "done" } else { "pending" });
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn balance_leaders(&self) -> Result<Vec<LeaderMove>> {
        let before = self.partition_infos().await?;
        let planned = plan(&before);
        for (k, _, to) in &planned {
            self.step_down(*k, Some(to)).await?;
        }
        let deadline = tokio::time::Instant::now() + self.inner.config.request_timeout * 2;
        loop {
            let now = self.partition_infos().await?;
            let led = |k: u16, to: &str| {
                now.get(usize::from(k))
                    .is_some_and(|p| p.leader.as_deref() == Some(to))
            };
            let all = planned.iter().all(|(k, _, to)| led(*k, to));
            if all || tokio::time::Instant::now() >= deadline {
                return Ok(planned
                    .into_iter()
                    .map(|(k, from, to)| LeaderMove {
                        partition: k,
                        stream: before[usize::from(k)].stream.clone(),
                        done: led(k, &to),
                        from,
                        to,
                    })
                    .collect());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
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
