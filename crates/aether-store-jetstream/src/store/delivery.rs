//! The numbers a consumer's delivery carries in its reply subject.
//!
//! async-nats's `Message::info` parses every field of the `$JS.ACK.` subject,
//! the timestamp into a date among them; the store's readers need two: the
//! stream sequence and the count still pending. This reads only those, for
//! both formats of ADR-15:
//!
//! - `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`
//! - `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<more>...]`

/// The stream sequence and the pending count of one delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// The message's stream sequence.
    pub(crate) stream_sequence: u64,
    /// Its place among the consumer's deliveries (1, 2, ...: a jump is a
    /// delivery lost on the way).
    pub(crate) consumer_sequence: u64,
    /// Messages of the consumer's filter still after this one.
    pub(crate) pending: u64,
}

impl Delivery {
    /// Reads a delivered message's reply subject; `None` when it is not one.
    pub(crate) fn of(message: &async_nats::jetstream::Message) -> Option<Self> {
        Self::parse(message.message.reply.as_deref()?)
    }

    /// Reads a `$JS.ACK.` subject; `None` when it is not one.
    pub(crate) fn parse(reply: &str) -> Option<Self> {
        let rest = reply.strip_prefix("$JS.ACK.")?;
        let mut tokens = [""; 9];
        let mut n = 0;
        for token in rest.split('.') {
            if n == tokens.len() {
                break;
            }
            tokens[n] = token;
            n += 1;
        }
        // Offset of <sseq> after the prefix; <cseq> follows it, <pending>
        // is three further.
        let sseq = match n {
            7 => 3,
            9 => 5,
            _ => return None,
        };
        Some(Self {
            stream_sequence: tokens[sseq].parse().ok()?,
            consumer_sequence: tokens[sseq + 1].parse().ok()?,
            pending: tokens[sseq + 3].parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_formats() {
        for reply in [
            "$JS.ACK.S_ns.ORD_1.1.42.7.1700000000000000000.958",
            "$JS.ACK.hub.ACCHASH.S_ns.ORD_1.1.42.7.1700000000000000000.958",
            "$JS.ACK.hub.ACCHASH.S_ns.ORD_1.1.42.7.1700000000000000000.958.r4nd0m",
            "$JS.ACK.hub.ACCHASH.S_ns.ORD_1.1.42.7.1700000000000000000.958.r4nd0m.more",
        ] {
            let d = Delivery::parse(reply).unwrap();
            assert_eq!(
                (d.stream_sequence, d.consumer_sequence, d.pending),
                (42, 7, 958),
                "{reply}"
            );
        }
    }

    #[test]
    fn anything_else_is_none() {
        for reply in [
            "",
            "_INBOX.abc",
            "$JS.ACK.S.C.1.2.3",
            "$JS.ACK.S.C.1.x.3.4.5",
            "$JS.ACK.S.C.1.2.3.4.-5",
            "$JS.ACK.a.b.S.C.1.2.3.4",
            "$JS.API.S.C.1.2.3.4.5",
        ] {
            assert_eq!(Delivery::parse(reply), None, "{reply:?}");
        }
    }
}
