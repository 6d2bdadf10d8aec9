//! The NATS form of routed calls: a request to the actor's subject (see
//! `subject.rs`), the runtime's [`Request`]/[`Reply`] fields as headers, the
//! command, query or answer as JSON in the body. `docs/wire.md` documents it
//! for callers in other languages.

use std::time::Duration;

use aether_core::{CommandId, Metadata};
use async_nats::{HeaderMap, HeaderName};
use bytes::Bytes;

use crate::id::NodeId;
use crate::runtime::status::Status;
use crate::runtime::transport::{Incoming, Kind, Reply, Request};

/// Request: the command id (a retry reuses it; without one, the serving
/// node makes one up and a retry is not recognised).
pub(crate) const CMD_ID: &str = "Aether-Cmd-Id";
/// Request: `cmd` (an ask), `tell` (queue it, answer once queued) or `query`.
pub(crate) const KIND: &str = "Aether-Kind";
/// Request: how long the caller waits, in milliseconds from sending (the
/// serving node drops the call unrun past it).
pub(crate) const TIMEOUT: &str = "Aether-Timeout";
/// Request: the correlation id the events carry.
pub(crate) const CORR: &str = "Aether-Corr";
/// Request: more event metadata, a JSON object of strings.
pub(crate) const META: &str = "Aether-Meta";
/// Reply (all but `ok`): the shard-map epoch of the serving node.
pub(crate) const EPOCH: &str = "Aether-Epoch";
/// Request: the W3C trace context of the call; the events carry it as the
/// metadata key of the same name.
pub(crate) const TRACEPARENT: &str = Metadata::KEY_TRACEPARENT;
/// Reply: what happened (see [`Status`]).
pub(crate) const STATUS: &str = "Aether-Status";
/// Reply to `not-owner`: the node the serving node's map names, if any.
pub(crate) const OWNER: &str = "Aether-Owner";
/// Reply to `overloaded`: when to retry, in milliseconds.
pub(crate) const RETRY_AFTER: &str = "Aether-Retry-After";

/// The names as `HeaderName`s, made once (no allocation per header sent).
mod names {
    use super::HeaderName;

    pub(super) const CMD_ID: HeaderName = HeaderName::from_static(super::CMD_ID);
    pub(super) const KIND: HeaderName = HeaderName::from_static(super::KIND);
    pub(super) const TIMEOUT: HeaderName = HeaderName::from_static(super::TIMEOUT);
    pub(super) const CORR: HeaderName = HeaderName::from_static(super::CORR);
    pub(super) const META: HeaderName = HeaderName::from_static(super::META);
    pub(super) const EPOCH: HeaderName = HeaderName::from_static(super::EPOCH);
    pub(super) const TRACEPARENT: HeaderName = HeaderName::from_static(super::TRACEPARENT);
    pub(super) const STATUS: HeaderName = HeaderName::from_static(super::STATUS);
    pub(super) const OWNER: HeaderName = HeaderName::from_static(super::OWNER);
    pub(super) const RETRY_AFTER: HeaderName = HeaderName::from_static(super::RETRY_AFTER);
}

/// One header's value as text, if present. (By `HeaderName`: a lookup by
/// `&str` copies a name async-nats does not know into a new `Bytes`.)
pub(crate) fn header(headers: Option<&HeaderMap>, name: HeaderName) -> Option<&str> {
    headers?.get(name).map(|v| v.as_str())
}

/// A millisecond count header.
fn millis(headers: Option<&HeaderMap>, name: HeaderName) -> Option<Duration> {
    header(headers, name)?
        .parse::<u64>()
        .ok()
        .map(Duration::from_millis)
}

/// The headers of one attempt of a call.
pub(crate) fn request_headers(request: &Request<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    // An ask is the default kind: no header (each costs allocations here,
    // bytes on the wire and parsing on both ends).
    if request.kind != Kind::Command {
        h.insert(names::KIND, request.kind.as_str());
    }
    if let Some(id) = request.command_id {
        h.insert(names::CMD_ID, id.as_str());
    }
    h.insert(names::TIMEOUT, request.timeout.as_millis().to_string());
    if let Some(m) = request.metadata {
        if let Some(c) = m.correlation_id() {
            h.insert(names::CORR, c);
        }
        if let Some(t) = m.get(TRACEPARENT) {
            h.insert(names::TRACEPARENT, t);
        }
        // The other keys, as one JSON object (none for a plain ask).
        let rest: std::collections::BTreeMap<&str, &str> = m
            .iter()
            .filter(|(k, _)| *k != Metadata::KEY_CORRELATION_ID && *k != TRACEPARENT)
            .collect();
        if !rest.is_empty()
            && let Ok(json) = serde_json::to_string(&rest)
        {
            h.insert(names::META, json.as_str());
        }
    }
    h
}

/// A received request, or what is wrong with its headers (a bad request).
pub(crate) fn incoming(headers: Option<&HeaderMap>, body: Bytes) -> Result<Incoming, String> {
    let kind = match header(headers, names::KIND) {
        None => Kind::Command,
        Some(k) => Kind::parse(k).ok_or_else(|| format!("unknown {KIND} {k:?}"))?,
    };
    let mut request = Incoming {
        kind,
        command_id: None,
        timeout: millis(headers, names::TIMEOUT),
        metadata: Metadata::new(),
        body,
    };
    if kind == Kind::Query {
        return Ok(request);
    }
    if let Some(meta) = header(headers, names::META) {
        request.metadata = serde_json::from_str::<Metadata>(meta)
            .map_err(|e| format!("{META} is not a JSON object of strings: {e}"))?;
    }
    if let Some(id) = header(headers, names::CMD_ID) {
        request.command_id = Some(CommandId::new(id).map_err(|e| format!("{CMD_ID}: {e}"))?);
    }
    if let Some(c) = header(headers, names::CORR) {
        request.metadata.set_correlation_id(c);
    }
    if let Some(t) = header(headers, names::TRACEPARENT) {
        request.metadata.insert(TRACEPARENT, t);
    }
    Ok(request)
}

/// The headers of `reply`, from a node whose map is at `epoch`, naming the
/// shard's owner in a `not-owner` reply when the map has one. An `ok` reply
/// carries only its status (the epoch is for callers working out why a call
/// did not run).
pub(crate) fn reply_headers(reply: &Reply, epoch: u64, owner: Option<&NodeId>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(names::STATUS, reply.status.as_str());
    if reply.status != Status::Ok && epoch > 0 {
        h.insert(names::EPOCH, epoch.to_string());
    }
    if let Some(wait) = reply.retry_after {
        h.insert(names::RETRY_AFTER, wait.as_millis().to_string());
    }
    if reply.status == Status::NotOwner
        && let Some(owner) = owner
    {
        h.insert(names::OWNER, owner.as_str());
    }
    h
}

/// A received reply; `None` if it is not one of ours (no status: another
/// responder on the subject).
pub(crate) fn reply(headers: Option<&HeaderMap>, body: Bytes) -> Option<Reply> {
    let status = header(headers, names::STATUS).and_then(Status::parse)?;
    Some(Reply {
        status,
        body,
        retry_after: millis(headers, names::RETRY_AFTER),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_and_a_reply_round_trip_through_headers() {
        let id = CommandId::new("c-7").unwrap();
        let mut meta = Metadata::new().with_correlation_id("corr-1");
        meta.insert("tenant", "t-1");
        meta.insert(TRACEPARENT, "00-abc-def-01");
        let request = Request {
            kind: Kind::Command,
            command_id: Some(&id),
            metadata: Some(&meta),
            timeout: Duration::from_millis(750),
            body: Bytes::from_static(b"{}"),
            by_map: true,
        };
        let h = request_headers(&request);
        assert_eq!(
            header(Some(&h), names::EPOCH),
            None,
            "requests carry no epoch"
        );
        let back = incoming(Some(&h), Bytes::from_static(b"{}")).unwrap();
        assert_eq!(back.kind, Kind::Command);
        assert_eq!(back.command_id, Some(id));
        assert_eq!(back.timeout, Some(Duration::from_millis(750)));
        assert_eq!(back.metadata, meta);

        let r = Reply {
            retry_after: Some(Duration::from_millis(25)),
            ..Reply::new(Status::Overloaded, Bytes::new())
        };
        let h = reply_headers(&r, 3, None);
        assert_eq!(header(Some(&h), names::EPOCH), Some("3"));
        let ok = reply_headers(&Reply::new(Status::Ok, Bytes::new()), 3, None);
        assert_eq!(
            header(Some(&ok), names::EPOCH),
            None,
            "an ok reply carries its status only"
        );
        let back = reply(Some(&h), Bytes::new()).unwrap();
        assert_eq!(back.status, Status::Overloaded);
        assert_eq!(back.retry_after, Some(Duration::from_millis(25)));
        assert!(reply(None, Bytes::new()).is_none());
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        let mut h = HeaderMap::new();
        h.insert(KIND, "launch");
        assert!(incoming(Some(&h), Bytes::new()).unwrap_err().contains(KIND));
        let mut h = HeaderMap::new();
        h.insert(META, "[1]");
        assert!(incoming(Some(&h), Bytes::new()).unwrap_err().contains(META));
        let mut h = HeaderMap::new();
        h.insert(CMD_ID, "");
        assert!(
            incoming(Some(&h), Bytes::new())
                .unwrap_err()
                .contains(CMD_ID)
        );
        // No headers at all: an ask with no id.
        let plain = incoming(None, Bytes::new()).unwrap();
        assert_eq!((plain.kind, plain.command_id), (Kind::Command, None));
    }
}
