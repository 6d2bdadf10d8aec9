//! The frames of batched routed calls between two members (see `batch.rs`):
//! many calls in one NATS message to the serving node, many answers in one
//! message back. Each call carries what the `Aether-*` headers of a single
//! call carry (`headers.rs`, `docs/wire.md`), so a batched call means the
//! same as one sent alone.
//!
//! Layout (integers little-endian, every string and body prefixed with its
//! length as a `u32`): a version byte, then the entries one after another.
//!
//! - call: `id: u64`, `kind: u8` (0 ask, 1 tell, 2 query), `timeout_ms:
//!   u32`, actor type, actor id, command id (empty: none), `pairs: u32`
//!   metadata keys and values, body;
//! - answer: `id: u64`, status, `retry_after_ms: u32` (`u32::MAX`: none),
//!   body.
//!
//! Decoding never panics: a short, overlong or otherwise malformed frame is
//! an error naming what is wrong, and nothing of it is used.

use std::time::Duration;

use aether_core::{ActorId, CommandId, Metadata};
use bytes::{BufMut, Bytes};
use tokio::time::Instant;

use crate::runtime::status::Status;
use crate::runtime::transport::{Incoming, Kind, Reply};

/// The version byte every frame starts with.
const VERSION: u8 = 1;
/// `retry_after_ms` of an answer without one.
const NO_RETRY: u32 = u32::MAX;

/// A frame being written.
#[derive(Debug, Default)]
pub(crate) struct FrameBuf(Vec<u8>);

impl FrameBuf {
    pub(crate) fn new() -> Self {
        // Room for a few calls before the first reallocation.
        let mut b = Vec::with_capacity(1024);
        b.push(VERSION);
        Self(b)
    }

    /// The frame's size so far, in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no entry was written yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.len() <= 1
    }

    pub(crate) fn finish(self) -> Bytes {
        Bytes::from(self.0)
    }

    fn text(&mut self, s: &[u8]) {
        self.0
            .put_u32_le(u32::try_from(s.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(s);
    }

    /// Appends one call, waited for `timeout` from now.
    pub(crate) fn call(&mut self, id: u64, call: &Call, timeout: Duration) {
        let b = &mut self.0;
        b.put_u64_le(id);
        b.put_u8(match call.kind {
            Kind::Command => 0,
            Kind::Tell => 1,
            Kind::Query => 2,
        });
        b.put_u32_le(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
        self.text(call.actor.actor_type().as_bytes());
        self.text(call.actor.as_str().as_bytes());
        self.text(
            call.command_id
                .as_ref()
                .map_or(&[][..], |c| c.as_str().as_bytes()),
        );
        match &call.metadata {
            Some(m) => {
                self.0.put_u32_le(u32::try_from(m.len()).unwrap_or(0));
                for (k, v) in m.iter() {
                    self.text(k.as_bytes());
                    self.text(v.as_bytes());
                }
            }
            None => self.0.put_u32_le(0),
        }
        self.text(&call.body);
    }

    /// Appends one answer.
    pub(crate) fn answer(&mut self, id: u64, reply: &Reply) {
        self.0.put_u64_le(id);
        self.text(reply.status.as_str().as_bytes());
        let retry = reply.retry_after.map_or(NO_RETRY, |d| {
            u32::try_from(d.as_millis()).unwrap_or(NO_RETRY - 1)
        });
        self.0.put_u32_le(retry);
        self.text(&reply.body);
    }
}

/// One call as the calling side queues it.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) kind: Kind,
    pub(crate) actor: ActorId,
    pub(crate) command_id: Option<CommandId>,
    pub(crate) metadata: Option<Metadata>,
    /// How long the caller waits, from `since`.
    pub(crate) timeout: Duration,
    pub(crate) since: Instant,
    pub(crate) body: Bytes,
}

/// A frame being read: texts are borrowed from it, bodies are slices of
/// it (no copy).
struct Reader {
    frame: Bytes,
    at: std::cell::Cell<usize>,
}

impl Reader {
    fn new(frame: Bytes) -> Result<Self, String> {
        match frame.first() {
            Some(&VERSION) => Ok(Self {
                frame,
                at: std::cell::Cell::new(1),
            }),
            Some(v) => Err(format!("frame version {v} is not {VERSION}")),
            None => Err("an empty frame".into()),
        }
    }

    fn done(&self) -> bool {
        self.at.get() >= self.frame.len()
    }

    /// The next `n` bytes' place in the frame.
    fn span(&self, n: usize, what: &str) -> Result<std::ops::Range<usize>, String> {
        let at = self.at.get();
        let end = at
            .checked_add(n)
            .filter(|e| *e <= self.frame.len())
            .ok_or_else(|| format!("the frame ends inside {what} (at byte {at})"))?;
        self.at.set(end);
        Ok(at..end)
    }

    fn array<const N: usize>(&self, what: &str) -> Result<[u8; N], String> {
        let span = self.span(N, what)?;
        let mut a = [0; N];
        a.copy_from_slice(&self.frame[span]);
        Ok(a)
    }

    fn u8(&self, what: &str) -> Result<u8, String> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&self, what: &str) -> Result<u32, String> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&self, what: &str) -> Result<u64, String> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A length-prefixed span.
    fn prefixed(&self, what: &str) -> Result<std::ops::Range<usize>, String> {
        let n = self.u32(what)? as usize;
        self.span(n, what)
    }

    fn bytes(&self, what: &str) -> Result<Bytes, String> {
        self.prefixed(what).map(|span| self.frame.slice(span))
    }

    fn text(&self, what: &str) -> Result<&str, String> {
        let span = self.prefixed(what)?;
        std::str::from_utf8(&self.frame[span]).map_err(|_| format!("{what} is not UTF-8"))
    }
}

/// One call as the serving side read it, or why it cannot run (answered
/// `bad-request`).
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) id: u64,
    pub(crate) call: Result<(ActorId, Incoming), String>,
}

/// The calls of a frame. An error when the frame itself cannot be read (no
/// call of it is run); a call whose fields are read but wrong (an invalid
/// actor or command id) is returned with what is wrong with it.
pub(crate) fn calls(frame: Bytes) -> Result<Vec<Received>, String> {
    let r = Reader::new(frame)?;
    let mut out = Vec::new();
    while !r.done() {
        let id = r.u64("a call's id")?;
        let kind = r.u8("a call's kind")?;
        let timeout = r.u32("a call's timeout")?;
        let actor_type = r.text("the actor type")?;
        let actor_id = r.text("the actor id")?;
        let command_id = r.text("the command id")?;
        let pairs = r.u32("the metadata's length")?;
        // Collected, then made in one go (one insert at a time copies the
        // entries each time: quadratic in a frame of many keys).
        let mut entries = Vec::new();
        for _ in 0..pairs {
            let k = r.text("a metadata key")?;
            let v = r.text("a metadata value")?;
            entries.push((k, v));
        }
        let metadata: Metadata = entries.into_iter().collect();
        let body = r.bytes("a call's body")?;
        let call = (|| {
            let kind = match kind {
                0 => Kind::Command,
                1 => Kind::Tell,
                2 => Kind::Query,
                k => return Err(format!("unknown call kind {k}")),
            };
            let actor = ActorId::with_type(actor_type, actor_id).map_err(|e| e.to_string())?;
            let command_id = match command_id {
                "" => None,
                c => Some(CommandId::new(c).map_err(|e| e.to_string())?),
            };
            let incoming = Incoming {
                kind,
                command_id,
                timeout: Some(Duration::from_millis(u64::from(timeout))),
                metadata,
                body,
            };
            Ok((actor, incoming))
        })();
        out.push(Received { id, call });
    }
    Ok(out)
}

/// The answers of a frame, or why it cannot be read (none of it is used).
/// An answer with a status this version does not know (from a newer node)
/// is left out alone: its call waits out its attempt, as one whose reply
/// had no status on the actor's subject does.
pub(crate) fn answers(frame: Bytes) -> Result<Vec<(u64, Reply)>, String> {
    let r = Reader::new(frame)?;
    let mut out = Vec::new();
    while !r.done() {
        let id = r.u64("an answer's id")?;
        let status = Status::parse(r.text("an answer's status")?);
        let retry = r.u32("an answer's retry-after")?;
        let body = r.bytes("an answer's body")?;
        let Some(status) = status else {
            tracing::debug!(id, "an answer with an unknown status was left out");
            continue;
        };
        let reply = Reply {
            status,
            body,
            retry_after: (retry != NO_RETRY).then(|| Duration::from_millis(u64::from(retry))),
        };
        out.push((id, reply));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn call(kind: Kind, actor: &str, command_id: Option<&str>, meta: &[(&str, &str)]) -> Call {
        let mut metadata = Metadata::new();
        for (k, v) in meta {
            metadata.insert(*k, *v);
        }
        Call {
            kind,
            actor: ActorId::with_type("account", actor).unwrap(),
            command_id: command_id.map(|c| CommandId::new(c).unwrap()),
            metadata: (!meta.is_empty()).then_some(metadata),
            timeout: Duration::from_millis(750),
            since: Instant::now(),
            body: Bytes::from(format!("{{\"for\":\"{actor}\"}}")),
        }
    }

    #[test]
    fn calls_and_answers_round_trip_through_one_frame() {
        let sent = [
            call(
                Kind::Command,
                "ada",
                Some("c-1"),
                &[("correlation_id", "k")],
            ),
            call(Kind::Tell, "bob", Some("c-2"), &[]),
            call(Kind::Query, "cy", None, &[]),
        ];
        let mut f = FrameBuf::new();
        assert!(f.is_empty());
        for (i, c) in sent.iter().enumerate() {
            f.call(i as u64 + 10, c, c.timeout);
        }
        let got = calls(f.finish()).unwrap();
        assert_eq!(got.len(), 3);
        for (i, (r, c)) in got.iter().zip(&sent).enumerate() {
            assert_eq!(r.id, i as u64 + 10);
            let (actor, incoming) = r.call.as_ref().unwrap();
            assert_eq!(actor, &c.actor);
            assert_eq!(incoming.kind, c.kind);
            assert_eq!(incoming.command_id, c.command_id);
            assert_eq!(incoming.timeout, Some(c.timeout));
            assert_eq!(incoming.metadata, c.metadata.clone().unwrap_or_default());
            assert_eq!(incoming.body, c.body);
        }

        let mut f = FrameBuf::new();
        let overloaded = Reply {
            retry_after: Some(Duration::from_millis(25)),
            ..Reply::new(Status::Overloaded, Bytes::new())
        };
        f.answer(1, &Reply::new(Status::Ok, &b"{\"version\":3}"[..]));
        f.answer(2, &overloaded);
        let got = answers(f.finish()).unwrap();
        assert_eq!(got[0].0, 1);
        assert_eq!(got[0].1.status, Status::Ok);
        assert_eq!(&got[0].1.body[..], b"{\"version\":3}");
        assert_eq!(got[0].1.retry_after, None);
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].1.status, Status::Overloaded);
        assert_eq!(got[1].1.retry_after, Some(Duration::from_millis(25)));
    }

    #[test]
    fn a_call_with_a_wrong_field_is_refused_alone_and_a_broken_frame_whole() {
        let mut f = FrameBuf::new();
        f.call(
            1,
            &call(Kind::Command, "ada", Some("c-1"), &[]),
            Duration::ZERO,
        );
        // A second call, readable but of kind 9.
        f.0.put_u64_le(2);
        f.0.put_u8(9);
        f.0.put_u32_le(10);
        for s in ["account", "x", ""] {
            f.text(s.as_bytes());
        }
        f.0.put_u32_le(0);
        f.text(b"{}");
        let frame = f.finish();
        let got = calls(frame.clone()).unwrap();
        assert!(got[0].call.is_ok());
        assert_eq!(got[1].id, 2);
        assert!(got[1].call.as_ref().unwrap_err().contains("kind 9"));
        // The same frame cut inside its second call: refused whole.
        assert!(
            calls(frame.slice(..frame.len() - 1))
                .unwrap_err()
                .contains("ends inside")
        );

        // An answer of a status this version does not know: left out alone.
        let mut f = FrameBuf::new();
        f.0.put_u64_le(1);
        f.text(b"from-the-future");
        f.0.put_u32_le(NO_RETRY);
        f.text(b"");
        f.answer(2, &Reply::new(Status::Ok, Bytes::new()));
        let got = answers(f.finish()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].1.status), (2, Status::Ok));

        assert!(calls(Bytes::new()).unwrap_err().contains("empty"));
        assert!(
            calls(Bytes::from_static(&[7]))
                .unwrap_err()
                .contains("version 7")
        );
        assert!(answers(Bytes::from_static(&[VERSION, 1, 2])).is_err());
        // A length far past the end: refused, nothing allocated for it.
        let mut f = FrameBuf::new();
        f.0.put_u64_le(1);
        f.0.put_u32_le(u32::MAX);
        assert!(answers(f.finish()).unwrap_err().contains("ends inside"));
    }

    proptest! {
        /// Any bytes at all: an error or calls, never a panic; the same for
        /// answers.
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut framed = vec![VERSION];
            framed.extend_from_slice(&bytes);
            let _ = calls(Bytes::from(bytes.clone()));
            let _ = answers(Bytes::from(bytes));
            let _ = calls(Bytes::from(framed.clone()));
            let _ = answers(Bytes::from(framed));
        }

        /// Every prefix of a valid frame decodes to an error or to fewer
        /// calls, never a panic.
        #[test]
        fn every_cut_of_a_frame_is_an_error_or_whole_calls(cut in 0usize..400) {
            let mut f = FrameBuf::new();
            f.call(1, &call(Kind::Command, "ada", Some("c-1"), &[("tenant", "t")]), Duration::ZERO);
            f.call(2, &call(Kind::Query, "bob", None, &[]), Duration::ZERO);
            let bytes = f.finish();
            let cut = cut.min(bytes.len());
            match calls(bytes.slice(..cut)) {
                Ok(got) => prop_assert!(cut == bytes.len() || got.len() < 2),
                Err(e) => prop_assert!(!e.is_empty()),
            }
        }
    }
}
