//! Fault scenarios run with any [`Workload`]: the typed counters
//! (`runtime_faults.rs`) and the model actors (`aether-model/tests/
//! model_faults.rs`) go through the same faults and the same checks. Each
//! starts its own rig on node processes `p1`..`p3`, runs a load, breaks
//! something, and ends with the history checker clean (every `Ok` in the
//! log once at its version, nothing applied twice, versions gapless,
//! real-time order, no `Ok` from a superseded owner) and the workload's own
//! checks of the logs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aether_core::{CommandId, EventStore};
use aether_testkit::history::{History, Outcome, check_with_claims};
use aether_testkit::{NatsCluster, NatsServer, TcpProxy, replicas_current, stream_leader};
use futures::StreamExt;

use super::rig::{DEADLINE, Rig, lease};
use super::workload::Workload;

/// An owner killed (SIGKILL) under load: nobody serves its shards before
/// its lease ran out, the others take them within a few leases, callers see
/// latency, not errors.
pub async fn a_sigkill_of_an_owner_under_load<W: Workload>(tag: &str) {
    let server = NatsServer::start().await;
    let mut rig = Rig::<W>::start(tag, &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = rig.actors(60, tag).await;
    let load = rig.load(&actors);
    load.flows(50).await;
    let moved = rig.actor_of(&actors, "p1").await;
    let t = Instant::now();
    rig.node("p1").kill().await;
    // The first call that succeeds on one of p1's actors after the kill.
    rig.caller
        .get::<W::Actor>(moved)
        .unwrap()
        .ask(W::command())
        .deadline(DEADLINE)
        .await
        .unwrap();
    let first_ok = t.elapsed();
    rig.settled(&["p2", "p3"]).await;
    load.flows(50).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!(
        "SIGKILL -> first Ok on a moved actor after {first_ok:?} (lease {:?}); {report}",
        lease()
    );
    assert_eq!(errors, 0, "callers saw latency, not errors");
    assert!(
        first_ok > lease() / 2,
        "nobody serves p1's shards before its lease ran out"
    );
    assert!(
        first_ok < lease() * 4,
        "taken over within a few leases: {first_ok:?}"
    );
}

/// An owner frozen (SIGSTOP) for two leases under load, then woken: it
/// finds its lease lapsed, comes back as a member and serves again under
/// new claims; nothing stale is served, callers see no error.
pub async fn an_owner_paused_for_twice_its_lease<W: Workload>(tag: &str) {
    let server = NatsServer::start().await;
    let mut rig = Rig::<W>::start(tag, &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = rig.actors(60, tag).await;
    let load = rig.load(&actors);
    load.flows(50).await;
    rig.node("p1").pause();
    // The fault: frozen for two leases.
    tokio::time::sleep(lease() * 2).await;
    rig.node("p1").resume();
    let woke = Instant::now();
    // It wakes with a lapsed lease, comes back as a member and gets shards
    // again, under new claims, and serves them.
    rig.settled(&["p1", "p2", "p3"]).await;
    load.served_by("p1", woke).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("SIGSTOP for 2 leases: {report}; {errors} errors retried");
    assert_eq!(errors, 0, "callers saw latency, not errors");
}

/// A node whose NATS connection is black-holed: the others take its shards
/// once its lease expired (it stopped serving before), it stays cut off for
/// three more leases, then rejoins and serves again.
pub async fn a_node_cut_off_for_three_leases<W: Workload>(tag: &str) {
    let server = NatsServer::start().await;
    let proxy = TcpProxy::start(server.port()).await;
    let urls = vec![proxy.url()];
    let rig = Rig::<W>::start(tag, &server.url(), &["p1", "p2", "p3"], &urls, 1).await;
    let actors = rig.actors(60, tag).await;
    let load = rig.load(&actors);
    load.flows(50).await;
    proxy.blackhole();
    // The others take p1's shards once its lease expired.
    rig.settled(&["p2", "p3"]).await;
    // The fault goes on: cut off for three more leases.
    tokio::time::sleep(lease() * 3).await;
    proxy.heal();
    let healed = Instant::now();
    rig.settled(&["p1", "p2", "p3"]).await;
    load.served_by("p1", healed).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("partition for 3 leases: {report}; {errors} errors retried");
    assert_eq!(errors, 0, "callers saw latency, not errors");
}

/// On a 3-server NATS cluster with R3 streams, the server leading the event
/// stream is killed for 3 s and restarted, then the one leading the claims
/// bucket: nothing lost, nothing applied twice (a few calls may end in an
/// error while a stream elects a leader; each is retried with its id).
pub async fn killing_the_nats_servers_that_lead_the_stream_and_the_claims<W: Workload>(tag: &str) {
    crate::support::init_tracing();
    let nats = NatsCluster::start().await;
    let all = nats.client_url().joined();
    let rig = Rig::<W>::start(tag, &all, &["p1", "p2", "p3"], &[], 3).await;
    let actors = rig.actors(60, tag).await;
    let load = rig.load(&actors);
    load.flows(50).await;
    // The store's stream is named after its config, with a suffix.
    let names: Vec<String> = rig
        .js
        .stream_names()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    let events = names
        .iter()
        .find(|n| n.starts_with(&rig.stream))
        .unwrap_or_else(|| panic!("no stream {}*: {names:?}", rig.stream))
        .clone();
    let streams = [events, format!("KV_{}_claims", rig.cluster)];
    for stream in &streams {
        let leader = stream_leader(&rig.js, stream).await;
        let i: usize = leader.trim_start_matches('n').parse::<usize>().unwrap() - 1;
        eprintln!("killing {leader}, the leader of {stream}");
        nats.kill(i);
        // The fault: down for 3 s.
        tokio::time::sleep(Duration::from_secs(3)).await;
        nats.restart(i).await;
        // Back in both streams' groups, and the callers served, before the
        // next kill (two servers down would be no quorum).
        for s in &streams {
            replicas_current(&rig.js, s).await;
        }
        load.flows(50).await;
    }
    rig.settled(&["p1", "p2", "p3"]).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("stream and claims leaders killed: {report}; {errors} errors retried");
    assert!(report.ok > 100, "{report}");
}

/// Right after the SIGKILL of an owner, 10,000 callers send 1,000 command
/// ids (each by 10 callers at once) to 100 actors, each retried with its id
/// until answered: exactly one event per id, the other copies answered with
/// the recorded outcome.
pub async fn a_retry_storm_after_a_kill<W: Workload>(tag: &str) {
    let server = NatsServer::start().await;
    let mut rig = Rig::<W>::start(tag, &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = rig.actors(100, tag).await;
    rig.node("p1").kill().await;
    // 10,000 callers: 1,000 command ids, each sent by 10 callers at once.
    let caller = Arc::new(rig.caller.clone());
    let done = Arc::new(AtomicU32::new(0));
    let errors = Arc::new(AtomicU32::new(0));
    let progress = {
        let (done, errors) = (done.clone(), errors.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                eprintln!(
                    "storm {:>3} s: {} of 10,000 answered, {} errors retried",
                    start.elapsed().as_secs(),
                    done.load(Ordering::Relaxed),
                    errors.load(Ordering::Relaxed)
                );
            }
        })
    };
    let history = Arc::new(History::new());
    let calls: Vec<_> = (0..10_000u32)
        .map(|i| {
            let (caller, done, errors) = (caller.clone(), done.clone(), errors.clone());
            let history = history.clone();
            let id = i % 1000;
            let actor = actors[(id % 100) as usize].clone();
            tokio::spawn(async move {
                let r = caller.get::<W::Actor>(actor.clone()).unwrap();
                let cmd = format!("storm-{id}");
                let command_id = CommandId::new(cmd.as_str()).unwrap();
                loop {
                    let t = history.issue(&cmd, &actor);
                    let res = r
                        .ask(W::command())
                        .command_id(command_id.clone())
                        .deadline(DEADLINE)
                        .await;
                    let (outcome, node) = match &res {
                        Ok(o) => (
                            Outcome::Ok { version: o.version },
                            o.events
                                .first()
                                .and_then(|e| e.metadata.writer_node().map(str::to_owned)),
                        ),
                        Err(e) if e.is_rejected() => (Outcome::Rejected, None),
                        Err(e) if e.may_have_applied() => (Outcome::Unknown, None),
                        Err(_) => (Outcome::NotApplied, None),
                    };
                    history.answer(t, outcome, node.as_deref());
                    match res {
                        Ok(o) => {
                            done.fetch_add(1, Ordering::Relaxed);
                            return (id, o.deduplicated);
                        }
                        Err(e) if e.is_rejected() => panic!("{e}"),
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("storm: {e}");
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await
                        }
                    }
                }
            })
        })
        .collect();
    let mut dedup = 0;
    for c in calls {
        let (_, d) = c.await.unwrap();
        dedup += d as u32;
    }
    progress.abort();
    let log = crate::cluster_support::store(&rig.url, &rig.stream).await;
    let mut logs = HashMap::new();
    for a in &actors {
        logs.insert(a.clone(), log.read(a, 1).await.unwrap());
    }
    let report = check_with_claims(&history.ops(), &rig.claims.claims(), &logs);
    eprintln!("retry storm history: {report}");
    assert!(report.is_clean(), "{report}");
    W::check_logs(&logs);
    // The storm's events (a workload may have written others first: the
    // model's accounts are opened).
    let mut per_id: HashMap<String, u32> = HashMap::new();
    let mut events = 0;
    for e in logs.values().flatten() {
        let Some(cause) = e
            .metadata
            .causation_id()
            .filter(|c| c.starts_with("storm-"))
        else {
            continue;
        };
        events += 1;
        *per_id.entry(cause.to_owned()).or_default() += 1;
    }
    eprintln!(
        "retry storm: {events} events for 1,000 ids from 10,000 callers; {dedup} answered from the dedupe window"
    );
    assert_eq!(per_id.len(), 1000);
    assert!(per_id.values().all(|&n| n == 1), "each id applied once");
    assert_eq!(events, 1000);
    assert!(
        dedup >= 9000 - 1000,
        "most callers got the recorded outcome: {dedup}"
    );
}
