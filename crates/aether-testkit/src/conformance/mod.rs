//! The store conformance suite (being implemented).
