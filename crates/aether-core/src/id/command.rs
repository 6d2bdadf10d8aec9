//! [`CommandId`]: the identity of one command, kept across its retries.

use std::sync::Arc;

use super::InvalidId;

/// The id of a command: chosen by the caller, or a fresh UUID v7.
///
/// Every event a command causes names it as its causation id. The actor
/// runtime makes it an idempotency key: a command retried with the same id
/// (after a timeout, on another node) returns the recorded outcome instead of
/// being decided again.
///
/// Rules: 1 to [`CommandId::MAX_LEN`] bytes of UTF-8, no control characters
/// (it travels in NATS headers, where a line break would end the header).
///
/// ```
/// use aether_core::CommandId;
/// let id = CommandId::new("req-7f3c").unwrap();
/// assert_eq!(id.as_str(), "req-7f3c");
/// assert!(CommandId::new("").is_err());
/// assert!(CommandId::new("a\r\nb").is_err());
/// assert_ne!(CommandId::random(), CommandId::random());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(Arc<str>);

impl CommandId {
    /// The longest command id accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validates `id` and builds a command id.
    pub fn new(id: impl AsRef<str>) -> Result<Self, InvalidId> {
        let id = id.as_ref();
        Self::check(id)?;
        Ok(Self(Arc::from(id)))
    }

    /// [`CommandId::new`] of a shared string, which the id shares.
    pub(crate) fn from_shared(id: &Arc<str>) -> Result<Self, InvalidId> {
        Self::check(id)?;
        Ok(Self(id.clone()))
    }

    fn check(id: &str) -> Result<(), InvalidId> {
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(InvalidId::new(format!(
                "command id must be 1 to {} bytes long, got {}",
                Self::MAX_LEN,
                id.len()
            )));
        }
        // Control characters: C0 and DEL in ASCII, C1 beyond.
        let control = if id.is_ascii() {
            id.bytes().any(|b| b < 0x20 || b == 0x7f)
        } else {
            id.chars().any(char::is_control)
        };
        if control {
            return Err(InvalidId::new(format!(
                "command id {id:?} contains a control character"
            )));
        }
        Ok(())
    }

    /// The id as a shared string (metadata values taken from it share it).
    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.0
    }

    /// A fresh, time-ordered (UUID v7) command id.
    pub fn random() -> Self {
        let mut buf = [0u8; 36];
        Self(Arc::from(
            &*super::uuid7::now_v7().hyphenated().encode_lower(&mut buf),
        ))
    }

    /// The id of command `n` that `process` sends in reaction to event
    /// `event`: `<process>/<event id>/<n>`, the same each time that event is
    /// delivered again, distinct for another event, process or `n`.
    ///
    /// A process manager (a projection that sends commands to actors) is fed
    /// at least once: after a crash it sees again the events since its last
    /// checkpoint. Sent with this id, a repeated command finds its recorded
    /// outcome in the actor's dedupe window instead of taking effect twice.
    /// Event ids are unique, so the id stays right when the log is rebuilt
    /// or its positions change (unlike one built from a log position).
    ///
    /// Fails only when `process` is too long for [`CommandId::MAX_LEN`] or
    /// holds a control character.
    ///
    /// ```
    /// use aether_core::{ActorId, CommandId, Event, json};
    /// let placed = Event::new(ActorId::new("order-7")?, 1, "Placed", json!({}));
    /// let a = CommandId::reacting_to("billing", &placed.id, 0)?;
    /// assert_eq!(a, CommandId::reacting_to("billing", &placed.id, 0)?);
    /// assert_ne!(a, CommandId::reacting_to("billing", &placed.id, 1)?);
    /// assert_ne!(a, CommandId::reacting_to("shipping", &placed.id, 0)?);
    /// assert!(a.as_str().starts_with("billing/"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reacting_to(process: &str, event: &super::EventId, n: u32) -> Result<Self, InvalidId> {
        Self::new(format!("{process}/{event}/{n}"))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for CommandId {
    /// A fresh id ([`CommandId::random`]).
    fn default() -> Self {
        Self::random()
    }
}

string_id_impls!(CommandId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(CommandId::new("x".repeat(CommandId::MAX_LEN)).is_ok());
        assert!(CommandId::new("x".repeat(CommandId::MAX_LEN + 1)).is_err());
        assert!(CommandId::new("order 42 / try 1 ü").is_ok());
        assert!(CommandId::new("a\0").is_err());
        // The ASCII fast path and the rest agree with `char::is_control`.
        for c in ['\u{1f}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}'] {
            assert!(CommandId::new(format!("ü{c}")).is_err(), "{c:?}");
            assert!(CommandId::new(format!("a{c}")).is_err(), "{c:?}");
        }
        assert!(CommandId::new("a ~\u{a0}").is_ok());
        let r = CommandId::random();
        assert_eq!(r.as_str().len(), 36);
        assert_eq!(r.as_str().parse::<CommandId>().unwrap(), r);
    }

    #[test]
    fn serde_validates() {
        let id = CommandId::new("c-1").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"c-1\"");
        assert_eq!(serde_json::from_str::<CommandId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<CommandId>("\"\"").is_err());
    }
}
