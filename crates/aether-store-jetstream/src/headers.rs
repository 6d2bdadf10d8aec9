//! The NATS headers stored with every event.

use aether_core::Event;
use async_nats::HeaderMap;
use async_nats::header::{HeaderName, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};

/// The (last) event's version: written on messages holding several events
/// (records), and on one-event messages by Aether before December 2026;
/// read where present, else taken from the payload.
pub const VERSION: &str = "Aether-Version";
/// The event's id on messages of an atomic batch, as Aether wrote them
/// before December 2026 (no longer written; read where present).
pub const EVENT_ID: &str = "Aether-Event-Id";
/// How many events a message holds, when more than one (an atomic append
/// stored as one message, one event per line).
pub const COUNT: &str = "Aether-Count";

// Pre-validated names: no check or allocation per message (a lookup by
// `&str` copies a name async-nats does not know into a new `Bytes`).
const VERSION_NAME: HeaderName = HeaderName::from_static(VERSION);
const COUNT_NAME: HeaderName = HeaderName::from_static(COUNT);
const EVENT_ID_NAME: HeaderName = HeaderName::from_static(EVENT_ID);

/// The headers of one event message: only the expected sequence
/// optimistic concurrency needs (`expected` is the stream sequence the
/// subject's last message must have, `0` = subject empty; `None` on the
/// later messages of an atomic batch).
///
/// The event's version and id are in its payload, and that is where reads
/// take them from. Each header costs bytes on the wire and in storage,
/// server time, and client time on every replay: measured, a replay of
/// messages with this one header uses about 5 µs of client CPU per event
/// against 9–10 µs with the message id and version headers written before
/// (`bench/peers`). A retried append is recognised by the tip check (the
/// expected sequence stops a second copy; the tip's event id tells that the
/// first landed), not by the server's `Nats-Msg-Id` dedupe.
pub(crate) fn for_event(expected: Option<u64>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(seq) = expected {
        h.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, decimal(seq));
    }
    h
}

/// The headers of a message holding all of `events` (one atomic append, at
/// least two events) expecting the subject's last sequence `expected`: the
/// last event's id as `Nats-Msg-Id` (a retried append is a duplicate) and
/// version, and the count. One message carries many events, so these
/// headers cost little per event.
pub(crate) fn for_record(events: &[Event], expected: u64) -> HeaderMap {
    let last = &events[events.len() - 1];
    let mut h = HeaderMap::new();
    // Same text as `EventId`'s `Display`, without the formatting machinery.
    let mut buf = [0u8; 36];
    let id = last.id.as_uuid().hyphenated().encode_lower(&mut buf);
    h.insert(NATS_MESSAGE_ID, String::from(&*id));
    h.insert(VERSION_NAME, decimal(last.version));
    h.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, decimal(expected));
    h.insert(COUNT_NAME, decimal(events.len() as u64));
    h
}

/// `n` in decimal, without the formatting machinery of `to_string`.
fn decimal(n: u64) -> String {
    let mut s = String::with_capacity(20);
    push_decimal(&mut s, n);
    s
}

/// Appends `n` in decimal to `out`.
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

/// The version header of a stored message, if present and well formed.
pub(crate) fn version(h: &HeaderMap) -> Option<u64> {
    h.get(VERSION_NAME)?.as_str().trim().parse().ok()
}

/// How many events a stored message holds, by its count header (absent on
/// one-event messages).
pub(crate) fn count(h: &HeaderMap) -> Option<u64> {
    h.get(COUNT_NAME)?.as_str().trim().parse().ok()
}

/// The event id a stored message carries in its headers.
pub(crate) fn event_id(h: &HeaderMap) -> Option<String> {
    h.get(NATS_MESSAGE_ID)
        .or_else(|| h.get(EVENT_ID_NAME))
        .map(|v| v.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_core::{ActorId, json};

    #[test]
    fn one_event_messages_carry_only_the_expected_sequence() {
        let h = for_event(Some(3));
        assert_eq!(
            h.get(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE)
                .map(|v| v.as_str()),
            Some("3")
        );
        assert_eq!(h.len(), 1);
        assert_eq!(version(&h), None);
        assert_eq!(event_id(&h), None);
        assert!(for_event(None).is_empty());
    }

    #[test]
    fn headers_of_the_previous_format_are_read() {
        let mut h = HeaderMap::new();
        h.insert(NATS_MESSAGE_ID, "e-1");
        h.insert(VERSION, "7");
        assert_eq!(version(&h), Some(7));
        assert_eq!(event_id(&h).as_deref(), Some("e-1"));
        let mut h = HeaderMap::new();
        h.insert(EVENT_ID, "e-2");
        assert_eq!(event_id(&h).as_deref(), Some("e-2"));
    }

    #[test]
    fn records_name_their_last_event() {
        let a = ActorId::new("a-1").unwrap();
        let evs: Vec<Event> = (4..=6)
            .map(|v| Event::new(a.clone(), v, "T", json!(v)))
            .collect();
        let h = for_record(&evs, 9);
        assert_eq!(version(&h), Some(6));
        assert_eq!(event_id(&h), Some(evs[2].id.to_string()));
        assert_eq!(h.get(COUNT).map(|v| v.as_str()), Some("3"));
    }

    #[test]
    fn decimal_matches_to_string() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::MAX - 1, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }
}
