//! [`Namespace`]: the namespace an event was published to, as delivered.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Names up to this many bytes are stored inline.
const INLINE: usize = 38;

/// A concrete namespace as carried by an [`crate::Envelope`]: cheap to clone.
/// Names up to 38 bytes are stored inline, so delivering an event to a
/// subscriber on another thread touches no shared reference count for it;
/// longer names share one allocation.
///
/// Dereferences to `str`.
#[derive(Clone)]
pub struct Namespace(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

impl Namespace {
    pub(crate) fn new(name: &str) -> Self {
        if name.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            Self(Repr::Inline {
                len: name.len() as u8,
                bytes,
            })
        } else {
            Self(Repr::Shared(Arc::from(name)))
        }
    }

    /// The namespace as a string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                // Always valid: copied from a `&str` at a char boundary (its end).
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Shared(s) => s,
        }
    }
}

impl Deref for Namespace {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Namespace {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Namespace {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Namespace {}

impl PartialEq<str> for Namespace {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Namespace {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for Namespace {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_names_round_trip() {
        for name in [
            "a",
            "tenant-a.orders",
            "ünï.😀",
            &"x".repeat(38),
            &"y".repeat(200),
        ] {
            let ns = Namespace::new(name);
            assert_eq!(ns.as_str(), name);
            assert_eq!(ns.clone(), ns);
            assert_eq!(ns, name);
        }
    }
}
