//! Shared helpers for the integration tests (each test file includes this
//! module; not every file uses every helper).
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aether_core::{ActorId, Event, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};

/// A stream name no other test (or process) uses: `T<pid><counter><nanos>`.
pub fn unique_stream() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "T{}x{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000
    )
}

/// A config on a fresh stream with `replicas`.
pub fn config(replicas: usize) -> JetStreamConfig {
    JetStreamConfig {
        stream_name: unique_stream(),
        namespace: "t".into(),
        replicas,
        ..Default::default()
    }
}

/// A config on fresh streams with `replicas` and `partitions`.
pub fn config_k(replicas: usize, partitions: u32) -> JetStreamConfig {
    JetStreamConfig {
        partitions,
        ..config(replicas)
    }
}

/// Opens a store with `config` on `url`, as an application does at start:
/// again when the store answers `Unavailable` ("try again": a fresh
/// replicated stream may not have elected its leader yet on a loaded
/// machine), up to three times.
pub async fn connect(url: &str, config: JetStreamConfig) -> JetStreamEventStore {
    let mut attempt = 1;
    loop {
        match JetStreamEventStore::connect(url, config.clone()).await {
            Ok(store) => return store,
            Err(e @ aether_core::Error::Unavailable { .. }) if attempt < 3 => {
                eprintln!("opening the store, attempt {attempt}: {e}; trying again");
                attempt += 1;
            }
            Err(e) => panic!("open store: {e:?}"),
        }
    }
}

/// A fresh store (own streams) with `partitions` on `url`.
pub async fn store_k(url: &str, replicas: usize, partitions: u32) -> JetStreamEventStore {
    connect(url, config_k(replicas, partitions)).await
}

/// A fresh store (own stream) on `url`.
pub async fn store(url: &str, replicas: usize) -> JetStreamEventStore {
    connect(url, config(replicas)).await
}

/// An actor id unique within the process.
pub fn actor(prefix: &str) -> ActorId {
    static N: AtomicU64 = AtomicU64::new(0);
    ActorId::new(format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))).unwrap()
}

/// An event of `actor` at `version`.
pub fn ev(actor: &ActorId, version: u64) -> Event {
    Event::new(actor.clone(), version, "Happened", json!({ "n": version }))
}

/// Publishes `payload` (with `headers`, if any) straight onto `actor`'s
/// subject, bypassing the store, and returns its stream sequence.
pub async fn publish_raw(
    s: &JetStreamEventStore,
    actor: &ActorId,
    headers: Option<async_nats::HeaderMap>,
    payload: bytes::Bytes,
) -> u64 {
    let js = async_nats::jetstream::new(s.client().clone());
    let subject = s.subject_for(actor);
    let ack = match headers {
        Some(h) => js.publish_with_headers(subject, h, payload).await,
        None => js.publish(subject, payload).await,
    };
    ack.unwrap().await.unwrap().sequence
}
