//! Cross-node races: several store instances on separate connections (and
//! separate OS processes) append to one actor at once. Per version exactly
//! one writer wins; the stream holds a gapless history without duplicates.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;

use aether_core::{ActorId, Event, EventStore, ExpectedVersion, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::{NatsCluster, NatsServer};

const CHILD_ENV: &str = "AETHER_JS_RACE_CHILD";

/// Appends `actor`'s next version until the actor reaches `target`; returns
/// the (version, event id) pairs this writer won.
async fn writer(
    store: JetStreamEventStore,
    actor: ActorId,
    target: u64,
    name: String,
) -> Vec<(u64, String)> {
    let mut won = Vec::new();
    loop {
        let current = store.latest_version(&actor).await.expect("latest");
        if current >= target {
            return won;
        }
        let event = Event::new(
            actor.clone(),
            current + 1,
            "Raced",
            json!({ "writer": name }),
        );
        let id = event.id.to_string();
        match store
            .append_batch(&actor, ExpectedVersion::Exact(current), vec![event])
            .await
        {
            Ok(v) => {
                assert_eq!(v, current + 1);
                won.push((v, id));
            }
            Err(e) if e.is_conflict() => {
                let c = e.as_conflict().unwrap();
                assert!(
                    c.current > current,
                    "a conflict must report a newer version: {e}"
                );
            }
            Err(e) => panic!("writer {name}: unexpected error {e:?}"),
        }
    }
}

/// Checks the history against the winners: gapless 1..=target, one winner per
/// version, ids match, no duplicate ids.
async fn check(store: &JetStreamEventStore, actor: &ActorId, target: u64, wins: &[(u64, String)]) {
    let mut by_version = BTreeMap::new();
    for (v, id) in wins {
        assert!(
            by_version.insert(*v, id.clone()).is_none(),
            "version {v} won twice"
        );
    }
    assert_eq!(
        by_version.len() as u64,
        target,
        "every version has exactly one winner"
    );
    let replay = store.read_with_errors(actor, 1).await.unwrap();
    assert!(replay.is_clean());
    let versions: Vec<u64> = replay.events.iter().map(|e| e.version).collect();
    assert_eq!(
        versions,
        (1..=target).collect::<Vec<_>>(),
        "gapless history"
    );
    let ids: HashSet<String> = replay.events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(ids.len() as u64, target, "no duplicates");
    for e in &replay.events {
        assert_eq!(
            by_version[&e.version],
            e.id.to_string(),
            "the stored event is the winner's"
        );
    }
}

async fn race_on(url: &str, config: JetStreamConfig, writers: usize, target: u64) {
    let actor = support::actor("race");
    let mut tasks = Vec::new();
    let mut stores = Vec::new();
    for i in 0..writers {
        // Separate connections, like separate machines.
        let s = JetStreamEventStore::connect(url, config.clone())
            .await
            .unwrap();
        stores.push(s.clone());
        tasks.push(tokio::spawn(writer(
            s,
            actor.clone(),
            target,
            format!("w{i}"),
        )));
    }
    let mut wins = Vec::new();
    let mut winners = 0;
    for t in tasks {
        let w = t.await.unwrap();
        winners += usize::from(!w.is_empty());
        wins.extend(w);
    }
    assert!(winners >= 1);
    check(&stores[0], &actor, target, &wins).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_connections_race_on_r1() {
    let server = NatsServer::start().await;
    race_on(&server.url(), support::config(1), 6, 120).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_connections_race_on_r3_across_nodes() {
    let cluster = NatsCluster::start().await;
    // Each writer connects to a different node first.
    let config = support::config(3);
    JetStreamEventStore::connect(&cluster.url(0), config.clone())
        .await
        .unwrap();
    let actor = support::actor("race3");
    let mut tasks = Vec::new();
    for i in 0..6 {
        let s = JetStreamEventStore::connect(&cluster.url(i % 3), config.clone())
            .await
            .unwrap();
        tasks.push(tokio::spawn(writer(s, actor.clone(), 60, format!("n{i}"))));
    }
    let mut wins = Vec::new();
    for t in tasks {
        wins.extend(t.await.unwrap());
    }
    let reader = JetStreamEventStore::connect(&cluster.url(1), config)
        .await
        .unwrap();
    check(&reader, &actor, 60, &wins).await;
}

/// In the parent: starts three copies of this test binary as writers (this
/// same test with `CHILD_ENV` set) and checks their combined wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_race() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child_writer().await;
    }
    let server = NatsServer::start().await;
    let config = support::config(1);
    JetStreamEventStore::connect(&server.url(), config.clone())
        .await
        .unwrap();
    let actor = support::actor("xproc");
    let target = 90u64;
    let exe = std::env::current_exe().unwrap();
    // All writers start at the same moment, whatever their startup time.
    let start_at = now_millis() + 2_500;
    let mut children = Vec::new();
    for i in 0..3 {
        let child = tokio::process::Command::new(&exe)
            .args(["--exact", "separate_processes_race", "--nocapture"])
            .env(CHILD_ENV, format!("p{i}"))
            .env("AETHER_JS_URL", server.url())
            .env("AETHER_JS_STREAM", &config.stream_name)
            .env("AETHER_JS_NAMESPACE", &config.namespace)
            .env("AETHER_JS_ACTOR", actor.as_str())
            .env("AETHER_JS_TARGET", target.to_string())
            .env("AETHER_JS_START_AT", start_at.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn writer process");
        children.push(child);
    }
    let mut wins = Vec::new();
    let mut processes_that_won = 0;
    for child in children {
        let out = child.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "writer process failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mine: Vec<(u64, String)> = stdout
            .lines()
            .filter_map(|l| l.find("WON ").map(|i| &l[i + 4..]))
            .map(|l| {
                let (v, id) = l.split_once(' ').unwrap();
                (v.parse().unwrap(), id.to_string())
            })
            .collect();
        assert!(
            stdout.contains("WRITER DONE"),
            "the child must have run as a writer: {stdout}"
        );
        processes_that_won += usize::from(!mine.is_empty());
        wins.extend(mine);
    }
    eprintln!("{processes_that_won} of 3 processes won at least one version");
    assert!(
        processes_that_won >= 2,
        "the processes did not actually race"
    );
    let store = JetStreamEventStore::connect(&server.url(), config)
        .await
        .unwrap();
    check(&store, &actor, target, &wins).await;
}

/// In a child process: one writer, printing each won version.
async fn child_writer() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} missing"));
    let config = JetStreamConfig {
        stream_name: var("AETHER_JS_STREAM"),
        namespace: var("AETHER_JS_NAMESPACE"),
        ..Default::default()
    };
    let store = JetStreamEventStore::connect(&var("AETHER_JS_URL"), config)
        .await
        .unwrap();
    let actor = ActorId::new(var("AETHER_JS_ACTOR")).unwrap();
    let target: u64 = var("AETHER_JS_TARGET").parse().unwrap();
    let name = var(CHILD_ENV);
    let start_at: u64 = var("AETHER_JS_START_AT").parse().unwrap();
    let wait = start_at.saturating_sub(now_millis());
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    for (v, id) in writer(store, actor, target, name).await {
        println!("WON {v} {id}");
    }
    println!("WRITER DONE");
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
