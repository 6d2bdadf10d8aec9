//! Fault tests of the runtime across nodes, with every Aether node a
//! separate OS process (`fault_support`), a real nats-server (or three),
//! and the JetStream store. Each test runs a load of callers (a system in
//! the test process that serves nothing and routes every call), records
//! every send and answer, breaks something, and ends with the test kit's
//! history checker over the history and every actor's log: every `Ok` in
//! the log exactly once at its version, no command applied twice, versions
//! gapless, real-time order, claim revisions never going back along a log,
//! no `Ok` from a node whose claim the test had seen superseded (the claims
//! bucket is watched throughout). Callers retry with the same command id
//! after an error; with deadlines longer than the lease plus a second, they
//! should not see errors at all.
//!
//! The tests wait for states (the map settled and every claim served, the
//! load flowing, a node serving again, replicas current), never for a
//! guessed time; the sleeps left are the faults themselves (a pause, a cut
//! or a slow link of a given length) or an observation window.
//!
//! The pause, the cut-off node, the NATS leaders killed and the retry storm
//! are `fault_support::scenarios`, run here with the counters and in
//! `aether-model/tests/model_faults.rs` with model actors.

mod cluster_support;
mod fault_support;
mod support;

use std::time::{Duration, Instant};

use aether_testkit::{NatsServer, TcpProxy};
use cluster_support::*;
use fault_support::*;

/// Not a test: the body of every node process (see `fault_support`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_process() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        run_child(&spec).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_an_owner_under_load_loses_nothing_and_applies_nothing_twice() {
    scenarios::a_sigkill_of_an_owner_under_load::<Counters>("fk").await;
}

/// The same with the calls batched between members: the killed owner had
/// frames of calls in flight, and its batch subject went away with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_an_owner_with_batched_calls_in_flight_loses_nothing_and_applies_nothing_twice()
{
    scenarios::a_sigkill_of_an_owner_under_load::<MemberCallers>("fb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_and_one_leaving_gracefully_under_load_cost_callers_nothing() {
    let server = NatsServer::start().await;
    let mut rig = Rig::<Counters>::start("fj", &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = counters(60, "fj");
    let load = Load::start(&[&rig.caller], &actors, 8, DEADLINE);
    // Enough answers before and after the moves for the count asserted below.
    load.flows(100).await;
    let url = rig.url.clone();
    let joined = Instant::now();
    rig.spawn("p4", &url);
    rig.settled(&["p1", "p2", "p3", "p4"]).await;
    load.served_by("p4", joined).await;
    let (client, cluster) = (rig.client.clone(), rig.cluster.clone());
    rig.node("p2").leave(&client, &cluster).await;
    rig.settled(&["p1", "p3", "p4"]).await;
    load.flows(100).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("join + graceful leave: {report}");
    assert_eq!(errors, 0, "planned moves: latency, never errors");
    assert!(report.ok > 200, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_paused_for_twice_its_lease_serves_nothing_stale_when_it_wakes() {
    scenarios::an_owner_paused_for_twice_its_lease::<Counters>("fs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_for_three_leases_stops_before_others_take_over_and_rejoins() {
    scenarios::a_node_cut_off_for_three_leases::<Counters>("fp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_costs_latency_not_errors_and_no_map_flapping() {
    let server = NatsServer::start().await;
    let proxy = TcpProxy::start(server.port()).await;
    let urls = vec![proxy.url()];
    let rig = Rig::<Counters>::start("fw", &server.url(), &["p1", "p2", "p3"], &urls, 1).await;
    let epoch = view(&rig.js, &rig.cluster, 1024).await.map.unwrap().epoch;
    let actors = counters(60, "fw");
    let load = Load::start(&[&rig.caller], &actors, 8, DEADLINE);
    proxy.delay(Duration::from_millis(200), Duration::from_millis(100));
    // The fault: slow for 6 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    proxy.heal();
    // An observation window: a map change the slow period caused late would
    // show by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    load.flows(50).await;
    let after = view(&rig.js, &rig.cluster, 1024).await.map.unwrap().epoch;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("slow node (200 ± 100 ms each way): {report}; map epochs {epoch} -> {after}");
    assert_eq!(errors, 0, "latency, not errors");
    assert!(
        after <= epoch + 1,
        "at most one map change: {epoch} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_nats_servers_that_lead_the_stream_and_the_claims_loses_nothing() {
    scenarios::killing_the_nats_servers_that_lead_the_stream_and_the_claims::<Counters>("fn").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_storm_after_a_kill_applies_each_command_id_once() {
    scenarios::a_retry_storm_after_a_kill::<Counters>("fr").await;
}
