//! Error sources as Aether errors keep them: the error given, shared.

use std::sync::Arc;

/// A boxed error source: what every constructor that takes a source accepts
/// (through `impl Into<BoxError>`: any `std::error::Error + Send + Sync`, a
/// `String` or a `&str`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A source as Aether errors keep it: the error given, behind an [`Arc`], so
/// a cloned error shares its source.
///
/// [`std::error::Error::source`] on [`crate::Error`] and
/// [`crate::ComponentError`] returns the object inside (not the `Arc`), so it
/// downcasts to the type given.
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Keeps `error` as a source. A [`SharedError`] given (for example another
/// error's source) is kept as it is, not wrapped again.
pub(crate) fn share(error: impl Into<BoxError>) -> SharedError {
    let boxed: BoxError = error.into();
    match boxed.downcast::<SharedError>() {
        Ok(shared) => *shared,
        Err(other) => Arc::from(other),
    }
}

/// `source` as [`std::error::Error::source`] returns it: the error given.
pub(crate) fn as_source(
    source: &Option<SharedError>,
) -> Option<&(dyn std::error::Error + 'static)> {
    source
        .as_deref()
        .map(|e| e as &(dyn std::error::Error + 'static))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_source_is_not_wrapped_again() {
        let first = share(std::io::Error::other("reset"));
        let again = share(first.clone());
        assert!(Arc::ptr_eq(&first, &again));
        assert!(again.downcast_ref::<std::io::Error>().is_some());
    }

    #[test]
    fn the_source_returned_is_the_error_given() {
        let kept = Some(share(std::io::Error::other("reset")));
        let source = as_source(&kept).unwrap();
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert!(source.downcast_ref::<SharedError>().is_none());
    }
}
