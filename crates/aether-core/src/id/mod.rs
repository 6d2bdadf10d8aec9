//! Identifiers and names: [`ActorId`], [`EventId`], [`NodeId`], [`CommandId`],
//! the one rule for names ([`validate_name`]) and the error they all fail
//! with ([`InvalidId`]).
//!
//! This module depends on nothing else in the crate: [`InvalidId`] converts
//! into [`crate::Error`] (as invalid input) where the error module is.

use std::fmt;

/// The trait impls of a validated `Arc<str>` id newtype `$ty` whose
/// `$ty::new(&str) -> Result<$ty, InvalidId>` checks it: `Debug`
/// (`$ty(value)`), `Display`, `FromStr`, `TryFrom<&str>`, `TryFrom<String>`,
/// `AsRef<str>`, and serde as a plain string, validated on the way in.
macro_rules! string_id_impls {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), self.0)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::id::InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $crate::id::InvalidId;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::id::InvalidId;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

mod actor;
mod command;
mod event;
mod node;
mod uuid7;

pub use actor::ActorId;
pub use command::CommandId;
pub use event::EventId;
pub use node::NodeId;

/// An identifier or name that breaks its rules (empty, too long, a character
/// it may not hold). **What to do:** fix the value; retrying cannot help.
///
/// Converts into [`crate::Error::InvalidInput`], so `?` works in functions
/// returning [`crate::Result`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    message: String,
}

impl InvalidId {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InvalidId {}

/// The longest name [`validate_name`] accepts, in bytes.
pub const MAX_NAME_LEN: usize = 32;

/// The one rule for the names Aether builds NATS subjects, stream names and
/// KV buckets from (cluster names, stream names, store namespaces): 1 to
/// [`MAX_NAME_LEN`] characters from `[A-Za-z0-9_-]`. `what` names the value
/// in the error.
///
/// Such a name is a single NATS subject token and a valid stream and bucket
/// name as it is, so two different names never share a subject.
///
/// ```
/// use aether_core::validate_name;
/// assert!(validate_name("cluster name", "eu-1_prod").is_ok());
/// assert!(validate_name("cluster name", "a.b").is_err());
/// assert!(validate_name("cluster name", "").is_err());
/// ```
pub fn validate_name(what: &str, value: &str) -> Result<(), InvalidId> {
    check_token(what, value, MAX_NAME_LEN)
}

/// [`validate_name`] with another length limit.
pub(crate) fn check_token(what: &str, value: &str, max: usize) -> Result<(), InvalidId> {
    if value.is_empty() || value.len() > max {
        return Err(InvalidId::new(format!(
            "{what} must be 1 to {max} characters long, got {} ({value:?})",
            value.len()
        )));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(InvalidId::new(format!(
            "{what} {value:?} contains {c:?}; only [A-Za-z0-9_-] are allowed"
        )));
    }
    Ok(())
}

/// Checks the rules free-form ids share: not empty, at most `max` bytes, no
/// NUL character.
pub(crate) fn check_text(what: &str, value: &str, max: usize) -> Result<(), InvalidId> {
    if value.is_empty() {
        return Err(InvalidId::new(format!("{what} must not be empty")));
    }
    if value.len() > max {
        return Err(InvalidId::new(format!(
            "{what} is {} bytes long; the limit is {max}",
            value.len()
        )));
    }
    if value.contains('\0') {
        return Err(InvalidId::new(format!(
            "{what} must not contain a NUL character"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_rule() {
        assert!(validate_name("n", "a").is_ok());
        assert!(validate_name("n", &"x".repeat(MAX_NAME_LEN)).is_ok());
        assert!(validate_name("n", &"x".repeat(MAX_NAME_LEN + 1)).is_err());
        for bad in ["", "a b", "a.b", "a*", "a>", "ü", "a\0"] {
            let err = validate_name("stream name", bad).unwrap_err();
            assert!(err.message().contains("stream name"), "{err}");
        }
    }
}
