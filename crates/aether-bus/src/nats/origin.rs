//! Where a publication comes from: the publishing node's id and its sequence
//! number, carried in the message's reply-subject field as
//! `_aeb.<node id>.<seq>` (`seq` 0: an unnumbered namespace).
//!
//! Core NATS messages carry an optional reply subject next to the subject,
//! which the client and server handle as a plain string. NATS headers would be
//! the obvious place, but they cost far more: in `benches/nats.rs` adding one
//! header to a raw async-nats JSON pipeline cut its throughput by about 40%
//! (the client builds a hash map of owned strings per message on both sides,
//! and the server scans header blocks). Nothing ever replies to these
//! subjects; nobody subscribes to `_aeb.>`.
//!
//! The receiver reads the last two tokens after an `_aeb` token, so a server
//! that prefixes reply subjects (gateways) does not break detection.

use async_nats::Subject;

/// The first token of an origin reply subject.
const MARKER: &str = "_aeb";

/// The reply subject of a publication by `node_id` (a valid node id: one
/// NATS token) with sequence `seq`.
pub(crate) fn reply(node_id: &str, seq: Option<u64>) -> Subject {
    let mut value = String::with_capacity(MARKER.len() + node_id.len() + 22);
    value.push_str(MARKER);
    value.push('.');
    value.push_str(node_id);
    value.push('.');
    push_decimal(&mut value, seq.unwrap_or(0));
    Subject::from(value)
}

/// Appends `n` in decimal (without the formatting machinery, which showed in
/// profiles of the publish path).
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// The origin node id and sequence number of a received message, if its
/// reply subject is an origin subject (sequence `None` when unnumbered or
/// malformed).
pub(crate) fn parse(reply: Option<&Subject>) -> (Option<&str>, Option<u64>) {
    let Some(reply) = reply else {
        return (None, None);
    };
    let mut tokens = reply.as_str().rsplitn(3, '.');
    let (Some(seq), Some(node), Some(rest)) = (tokens.next(), tokens.next(), tokens.next()) else {
        return (None, None);
    };
    if !(rest == MARKER || rest.ends_with("._aeb")) || node.is_empty() {
        return (None, None);
    }
    match seq.parse::<u64>() {
        Ok(0) | Err(_) => (Some(node), None),
        Ok(n) => (Some(node), Some(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_origin_and_sequence() {
        let r = reply("node-1", Some(42));
        assert_eq!(r.as_str(), "_aeb.node-1.42");
        assert_eq!(parse(Some(&r)), (Some("node-1"), Some(42)));
        let r = reply("node_2", None);
        assert_eq!(parse(Some(&r)), (Some("node_2"), None));
        assert_eq!(parse(None), (None, None));
    }

    #[test]
    fn decimal_sequence_numbers() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            let mut s = String::new();
            push_decimal(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn tolerates_prefixes_and_ignores_foreign_replies() {
        let prefixed = Subject::from("_GR_.abc.def._aeb.n1.7");
        assert_eq!(parse(Some(&prefixed)), (Some("n1"), Some(7)));
        for foreign in [
            "_INBOX.abc.def",
            "x",
            "_aeb.n1",
            "x_aeb.n1.5",
            "_aeb..5",
            "_aeb.n.x",
        ] {
            let s = Subject::from(foreign);
            let (origin, seq) = parse(Some(&s));
            assert!(seq.is_none(), "{foreign}");
            if foreign != "_aeb.n.x" {
                assert!(origin.is_none(), "{foreign}");
            }
        }
    }
}
