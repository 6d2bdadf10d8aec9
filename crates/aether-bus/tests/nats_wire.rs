//! The NATS bus on the wire: batching of queued events, and malformed input
//! from other publishers spoiling only itself.

mod support;

use std::time::Duration;

use aether_bus::{BusItem, Filter, OverflowPolicy, SubscribeOptions};
use aether_testkit::{NatsServer, eventually};
use support::*;

/// Events that queue up travel several to a NATS message (binary frames);
/// receivers get each one, in publication order across namespaces,
/// and nothing is reported lost. (One thread: the outbox task runs only when
/// the publishing loop yields, so events do queue up, whatever the speed of
/// the machine.)
#[tokio::test(flavor = "current_thread")]
async fn queued_events_travel_batched_and_arrive_in_order() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let options = SubscribeOptions::new(1 << 16, OverflowPolicy::DropOldest);
    let mut sub = b
        .subscribe_with("batch.*", Filter::new(), options)
        .await
        .unwrap();
    // A plain NATS subscriber on the same subjects counts messages.
    let raw = async_nats::connect(server.url()).await.unwrap();
    let mut wire = raw.subscribe("aether.bus.ev.batch.*").await.unwrap();
    server_has_processed(&raw).await;
    let n = 4_000u64;
    for i in 0..n {
        // Runs of 50 per namespace, alternating.
        let ns = if (i / 50).is_multiple_of(2) {
            "batch.a"
        } else {
            "batch.b"
        };
        a.publish(ns, event("order-1", "Placed", i)).await.unwrap();
    }
    a.flush().await.unwrap();
    let mut got = Vec::new();
    while (got.len() as u64) < n {
        match next_item(&mut sub, Duration::from_secs(10)).await {
            Some(BusItem::Event(env)) => {
                let seq = seq_of(&env.event);
                let ns = if (seq / 50).is_multiple_of(2) {
                    "batch.a"
                } else {
                    "batch.b"
                };
                assert_eq!(env.namespace.as_str(), ns);
                got.push(seq);
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }
    assert_eq!(got, (0..n).collect::<Vec<_>>(), "every event, in order");
    assert_eq!(b.stats().remote_lost, 0);
    // Frames in a bus message (see `src/wire.rs`): a tag byte, then
    // length-prefixed frames.
    fn frame_count(payload: &[u8]) -> u64 {
        assert_eq!(
            payload[0], 0xA2,
            "the bus's binary format, data as JSON text"
        );
        let (mut rest, mut n) = (&payload[1..], 0);
        while !rest.is_empty() {
            let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[4 + len..];
            n += 1;
        }
        n
    }
    let (mut messages, mut lines) = (0u64, 0u64);
    while lines < n {
        let m = tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut wire))
            .await
            .unwrap()
            .unwrap();
        messages += 1;
        lines += frame_count(&m.payload);
    }
    assert_eq!(lines, n);
    assert!(
        messages < n,
        "{n} events queued faster than sent should share messages (got {messages})"
    );
}

/// A malformed line inside a batch is counted and skipped; the others in the
/// same message are delivered.
#[tokio::test]
async fn a_malformed_line_in_a_batch_spoils_only_itself() {
    let server = NatsServer::start().await;
    let b = bus(&server.url()).await;
    let mut sub = b.subscribe("bad.lines").await.unwrap();
    let raw = async_nats::connect(server.url()).await.unwrap();
    let mut payload = event("a-1", "T", 1).to_json_bytes().unwrap();
    payload.extend_from_slice(b"\n{not json\n\n");
    payload.extend_from_slice(&event("a-1", "T", 2).to_json_bytes().unwrap());
    raw.publish("aether.bus.ev.bad.lines", payload.into())
        .await
        .unwrap();
    raw.flush().await.unwrap();
    assert_eq!(next_event(&mut sub).await, 1);
    assert_eq!(next_event(&mut sub).await, 2);
    // The bad line is counted; the empty one is not an event at all.
    eventually("one decode error counted", WAIT, async || {
        b.stats().decode_errors == 1
    })
    .await;
}

/// A malformed frame inside a binary message is counted and skipped; the
/// frames around it are delivered.
#[tokio::test]
async fn a_malformed_frame_in_a_message_spoils_only_itself() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let mut sub = b.subscribe("bad.frames").await.unwrap();
    // Capture what the bus puts on the wire for one event.
    let raw = async_nats::connect(server.url()).await.unwrap();
    let mut wire = raw.subscribe("aether.bus.ev.bad.frames").await.unwrap();
    server_has_processed(&raw).await;
    a.publish("bad.frames", event("a-1", "T", 1)).await.unwrap();
    a.flush().await.unwrap();
    assert_eq!(next_event(&mut sub).await, 1);
    let captured =
        tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut wire))
            .await
            .expect("the raw subscriber sees the bus's message")
            .unwrap()
            .payload;
    let (tag, frame) = (captured[0], &captured[1..]);
    let mut payload = vec![tag];
    payload.extend_from_slice(frame);
    payload.extend_from_slice(&3u32.to_le_bytes());
    payload.extend_from_slice(b"xyz");
    payload.extend_from_slice(frame);
    raw.publish("aether.bus.ev.bad.frames", payload.into())
        .await
        .unwrap();
    // A cut frame at the end is an error too, not a panic.
    let mut cut = vec![tag];
    cut.extend_from_slice(&frame[..frame.len() / 2]);
    raw.publish("aether.bus.ev.bad.frames", cut.into())
        .await
        .unwrap();
    raw.flush().await.unwrap();
    assert_eq!(next_event(&mut sub).await, 1);
    assert_eq!(next_event(&mut sub).await, 1);
    eventually("two decode errors counted", WAIT, async || {
        b.stats().decode_errors == 2
    })
    .await;
}
