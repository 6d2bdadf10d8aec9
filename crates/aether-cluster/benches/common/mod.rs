//! What the cluster benches share: percentiles, µs formatting, and the raw
//! baseline of an append.
#![allow(dead_code)]

use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;

/// The `p` quantile of `v` (seconds), nearest rank.
pub(crate) fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

/// Seconds as microseconds, one decimal.
pub(crate) fn us(s: f64) -> String {
    format!("{:.1} µs", s * 1e6)
}

/// The raw baseline of an append: publish with the expected last subject
/// sequence, wait for the ack; the new sequence.
pub(crate) async fn raw_occ_append(
    js: &async_nats::jetstream::Context,
    subject: &str,
    payload: &Bytes,
    seq: u64,
) -> u64 {
    js.send_publish(
        subject.to_owned(),
        PublishMessage::build()
            .payload(payload.clone())
            .expected_last_subject_sequence(seq),
    )
    .await
    .unwrap()
    .await
    .unwrap()
    .sequence
}

/// Creates stream `name` over `<prefix>.>` for a raw baseline (defaults
/// otherwise: R1, file storage).
pub(crate) async fn raw_stream(client: &async_nats::Client, name: &str, prefix: &str) {
    async_nats::jetstream::new(client.clone())
        .create_stream(async_nats::jetstream::stream::Config {
            name: name.into(),
            subjects: vec![format!("{prefix}.>")],
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Returns once the server has taken everything `client` sent before (its
/// subscriptions above all): a request nobody answers comes back "no
/// responders" after the server read what preceded it. (`flush` only writes
/// to the socket.)
#[allow(dead_code)] // not every bench that includes this module uses it
pub(crate) async fn synced(client: &async_nats::Client) {
    let r = client.request("aether.bench.sync", Bytes::new()).await;
    assert!(r.is_err(), "nobody answers the sync subject");
}
