//! The partitioned layout (v2) against a real nats-server: which streams a
//! namespace of K partitions has and what their metadata says, where each
//! actor's events land, that the layout is found from the streams (not from
//! the config), and that damaged or incomplete layouts are refused with
//! errors naming the stream.

mod support;

use std::collections::HashMap;

use aether_core::hash::{SLICES, shard_of, slice_of};
use aether_core::{Error, EventLog, EventStore, LogSelection};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use async_nats::jetstream;
use support::{actor, config, config_k, ev};

async fn info(js: &jetstream::Context, name: &str) -> jetstream::stream::Info {
    js.get_stream(name)
        .await
        .unwrap_or_else(|e| panic!("stream {name}: {e}"))
        .cached_info()
        .clone()
}

#[tokio::test]
async fn a_namespace_of_four_partitions_is_four_streams_each_holding_its_slices() {
    let server = NatsServer::start().await;
    let cfg = config_k(1, 4);
    let s = JetStreamEventStore::connect(&server.url(), cfg.clone())
        .await
        .unwrap();
    assert_eq!(s.partitions(), 4);
    assert_eq!(s.epoch(), 0);
    let base = cfg.effective_stream_name().unwrap();
    let names: Vec<String> = (0..4).map(|k| format!("{base}_P{k}")).collect();
    assert_eq!(s.partition_streams(), names);
    let js = jetstream::new(s.client().clone());
    for (k, name) in names.iter().enumerate() {
        let i = info(&js, name).await;
        let m = &i.config.metadata;
        let (first, last) = (k as u32 * 256, k as u32 * 256 + 255);
        for (key, value) in [
            ("aether.layout", "2".to_string()),
            ("aether.epoch", "0".into()),
            ("aether.partitions", "4".into()),
            ("aether.partition", k.to_string()),
            ("aether.slices", format!("{first}-{last}")),
            ("aether.state", "active".into()),
        ] {
            assert_eq!(m.get(key), Some(&value), "{name}: {key}");
        }
        assert_eq!(i.config.subjects.len(), 256, "{name}: one filter per slice");
        assert_eq!(
            i.config.subjects[0],
            format!("{base}.events.{first}.*.*"),
            "{name}"
        );
    }
    // There is no unpartitioned stream.
    assert!(js.get_stream(&base).await.is_err());

    // Every actor's events go to the stream of its partition, under the
    // subject naming its slice; the partition is the runtime's shard hash.
    let mut per_partition = HashMap::new();
    for n in 0..64 {
        let a = actor("spread");
        s.append(ev(&a, 1)).await.unwrap();
        s.append(ev(&a, 2)).await.unwrap();
        let k = s.partition_of(&a);
        assert_eq!(u32::from(k), shard_of(&a, 4), "{a:?}");
        assert_eq!(u32::from(k), slice_of(&a) * 4 / SLICES);
        // Runtime shard s of 1,024 writes only to partition s·4/1,024.
        assert_eq!(u32::from(k), shard_of(&a, 1024) * 4 / 1024);
        let subject = s.subject_for(&a);
        assert!(
            subject.starts_with(&format!("{base}.events.{}.", slice_of(&a))),
            "{subject}"
        );
        let stream = js.get_stream(&names[usize::from(k)]).await.unwrap();
        let last = stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .unwrap_or_else(|e| panic!("actor {n} not in its partition's stream: {e}"));
        assert!(last.payload.starts_with(b"{"), "an event");
        *per_partition.entry(k).or_insert(0) += 1;
        assert_eq!(s.read(&a, 1).await.unwrap().len(), 2);
    }
    assert_eq!(per_partition.len(), 4, "64 actors cover 4 partitions");

    // The log names each event's partition.
    let mut sub = s
        .subscribe(LogSelection::actor_types(["spread"]), None)
        .await
        .unwrap();
    assert_eq!(sub.backlog(), 128);
    for i in 0..128 {
        let e = sub.next().await.unwrap();
        // The last entry, whichever partition it came from, counts every
        // partition read to its end (the chunks reach the subscriber in
        // the order they were counted).
        if i == 127 {
            assert_eq!(e.behind, 0, "the last entry is at the head");
        }
        let event = e.event.unwrap();
        assert_eq!(e.position.partition, s.partition_of(&event.actor_id));
        assert_eq!(e.position.epoch, 0);
    }

    // Resumed at the head of every partition: the messages holding the
    // cursor are handed on again by the consumers but are not behind, and
    // the next event appended is at the head.
    let head = s.head().await.unwrap();
    let mut sub = s
        .subscribe(LogSelection::actor_types(["spread"]), head)
        .await
        .unwrap();
    assert_eq!(sub.backlog(), 0);
    s.append(ev(&actor("spread"), 1)).await.unwrap();
    assert_eq!(sub.next().await.unwrap().behind, 0);
}

#[tokio::test]
async fn the_layout_comes_from_the_streams_not_from_the_config() {
    let server = NatsServer::start().await;
    let cfg = config_k(1, 4);
    let s = JetStreamEventStore::connect(&server.url(), cfg.clone())
        .await
        .unwrap();
    let a = actor("found");
    s.append(ev(&a, 1)).await.unwrap();
    // Opened with another partition count: the namespace keeps its four.
    for k in [1, 2, 8] {
        let other = JetStreamEventStore::connect(
            &server.url(),
            JetStreamConfig {
                partitions: k,
                ..cfg.clone()
            },
        )
        .await
        .unwrap();
        assert_eq!(other.partitions(), 4, "opened with partitions = {k}");
        assert_eq!(other.latest_version(&a).await.unwrap(), 1);
    }
    let existing = JetStreamEventStore::open_existing(s.client().clone(), cfg.clone())
        .await
        .unwrap();
    assert_eq!(existing.partitions(), 4);

    // And an unpartitioned namespace stays one stream, as every earlier
    // version wrote it: no metadata, subjects `<base>.events.>`.
    let v1 = config(1);
    let one = JetStreamEventStore::connect(&server.url(), v1.clone())
        .await
        .unwrap();
    one.append(ev(&a, 1)).await.unwrap();
    let again = JetStreamEventStore::connect(
        &server.url(),
        JetStreamConfig {
            partitions: 4,
            ..v1.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(again.partitions(), 1);
    assert_eq!(again.latest_version(&a).await.unwrap(), 1);
    let base = v1.effective_stream_name().unwrap();
    let i = info(&jetstream::new(one.client().clone()), &base).await;
    assert_eq!(i.config.subjects, vec![format!("{base}.events.>")]);
    assert!(
        i.config.metadata.keys().all(|k| k.starts_with("_nats.")),
        "no Aether metadata on a v1 stream: {:?}",
        i.config.metadata
    );
    assert_eq!(
        again.subject_for(&a),
        format!("{base}.events.found.{}", a.as_str())
    );
}

#[tokio::test]
async fn concurrent_opens_agree_and_racing_layouts_leave_one() {
    let server = NatsServer::start().await;
    let url = server.url();
    let cfg = config_k(1, 8);
    let opens =
        futures::future::join_all((0..6).map(|_| JetStreamEventStore::connect(&url, cfg.clone())))
            .await;
    for s in opens {
        assert_eq!(s.unwrap().partitions(), 8);
    }
    // One creator asks for one stream, another for four, at once: the
    // server's subject overlap check lets one layout exist, and both stores
    // end up on it.
    let base = config(1);
    let (a, b) = tokio::join!(
        JetStreamEventStore::connect(&url, base.clone()),
        JetStreamEventStore::connect(
            &url,
            JetStreamConfig {
                partitions: 4,
                ..base.clone()
            }
        )
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.partitions(), b.partitions(), "one layout");
    let x = actor("race");
    a.append(ev(&x, 1)).await.unwrap();
    assert_eq!(b.latest_version(&x).await.unwrap(), 1);
}

#[tokio::test]
async fn a_missing_partition_is_recreated_by_open_and_reported_by_open_existing() {
    let server = NatsServer::start().await;
    let cfg = config_k(1, 4);
    let s = JetStreamEventStore::connect(&server.url(), cfg.clone())
        .await
        .unwrap();
    let js = jetstream::new(s.client().clone());
    let third = s.partition_streams()[2].clone();
    // A creator that crashed half way left partition 2 out.
    js.delete_stream(&third).await.unwrap();
    let err = JetStreamEventStore::open_existing(s.client().clone(), cfg.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Missing { .. }), "{err}");
    assert!(err.to_string().contains(&third), "{err}");
    let again = JetStreamEventStore::connect(&server.url(), cfg.clone())
        .await
        .unwrap();
    assert_eq!(again.partitions(), 4);
    info(&js, &third).await;
    // Nothing at all: open_existing says the namespace does not exist.
    let none = config(1);
    let err = JetStreamEventStore::open_existing(s.client().clone(), none)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Missing { .. }), "{err}");
}

#[tokio::test]
async fn damaged_layout_metadata_is_refused_naming_the_stream() {
    let server = NatsServer::start().await;
    let cfg = config_k(1, 4);
    let s = JetStreamEventStore::connect(&server.url(), cfg.clone())
        .await
        .unwrap();
    let js = jetstream::new(s.client().clone());
    let second = s.partition_streams()[1].clone();
    let mut config = info(&js, &second).await.config;
    config
        .metadata
        .insert("aether.slices".into(), "0-255".into());
    js.update_stream(config).await.unwrap();
    for open in [
        JetStreamEventStore::open_existing(s.client().clone(), cfg.clone()).await,
        JetStreamEventStore::open(s.client().clone(), cfg.clone()).await,
    ] {
        let err = open.unwrap_err();
        assert!(matches!(err, Error::Storage { .. }), "{err}");
        assert!(err.to_string().contains(&second), "{err}");
    }
}

#[tokio::test]
async fn placement_tags_place_each_partition() {
    let server = NatsServer::builder()
        .config(r#"server_tags: ["az:a", "disk:ssd"]"#)
        .start()
        .await;
    let cfg = JetStreamConfig {
        placement_tags: vec!["az:a".into(), "disk:ssd".into()],
        ..config_k(1, 4)
    };
    let s = JetStreamEventStore::connect(&server.url(), cfg)
        .await
        .unwrap();
    let js = jetstream::new(s.client().clone());
    for (k, name) in s.partition_streams().iter().enumerate() {
        let placement = info(&js, name).await.config.placement.unwrap();
        let tag = if k % 2 == 0 { "az:a" } else { "disk:ssd" };
        assert_eq!(placement.tags, vec![tag.to_string()], "{name}");
    }
    // (A standalone server keeps the placement without checking it; on a
    // cluster, a tag no server has makes creation fail with the server's
    // reason.)
}

#[test]
fn partitions_must_be_a_power_of_two_up_to_1024() {
    for bad in [0, 3, 6, 2048] {
        let c = JetStreamConfig {
            partitions: bad,
            ..JetStreamConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("power of two"), "{e}");
    }
    for good in [1, 2, 16, 1024] {
        JetStreamConfig {
            partitions: good,
            ..JetStreamConfig::default()
        }
        .validate()
        .unwrap();
    }
}

#[tokio::test]
async fn a_cursor_whose_message_retention_removed_counts_the_rest_as_backlog() {
    let server = NatsServer::start().await;
    let s = support::store(&server.url(), 1).await;
    let a = actor("kept");
    for v in 1..=3 {
        s.append(ev(&a, v)).await.unwrap();
    }
    let mut sub = s
        .subscribe(LogSelection::actor_types(["kept"]), None)
        .await
        .unwrap();
    let _ = sub.next().await.unwrap();
    let second = sub.next().await.unwrap().position;
    drop(sub);

    // Resumed at the second message, still stored: only the third is behind.
    let resumed = s
        .subscribe(LogSelection::actor_types(["kept"]), second)
        .await
        .unwrap();
    assert_eq!(resumed.backlog(), 1);
    drop(resumed);

    // Retention removes the first two messages: the consumer starts past the
    // cursor's message, at the third, which is still behind.
    let js = jetstream::new(s.client().clone());
    let stream = s.partition_streams().remove(0);
    js.get_stream(&stream)
        .await
        .unwrap()
        .purge()
        .sequence(3)
        .await
        .unwrap();
    let mut resumed = s
        .subscribe(LogSelection::actor_types(["kept"]), second)
        .await
        .unwrap();
    assert_eq!(resumed.backlog(), 1, "the third message is still to read");
    let third = resumed.next().await.unwrap();
    assert_eq!(third.event.unwrap().version, 3);
    assert_eq!(third.behind, 0);
}
