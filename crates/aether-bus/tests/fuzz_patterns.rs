//! Fuzz targets for what the bus parses from users and from the wire:
//! namespace and actor patterns, namespaces, and events.
//!
//! `cargo test -p aether-bus --test fuzz_patterns` runs each target on
//! random and boundary inputs (bolero's test engine; part of the normal test
//! run). The same targets run under a coverage-guided fuzzer with
//! `cargo bolero test -p aether-bus --test fuzz_patterns <target>` (needs
//! `cargo install cargo-bolero` and a nightly toolchain).

use aether_bus::{Filter, Pattern, is_wildcard, matches_pattern, validate_namespace};
use aether_core::Event;
use bolero::check;

/// Parsing and matching any pair of strings never panics, and a valid
/// namespace pattern only ever matches valid namespaces.
#[test]
fn patterns_parse_and_match_without_panicking() {
    check!()
        .with_type::<(String, String)>()
        .for_each(|(pattern, subject)| {
            if let Ok(p) = Pattern::namespace(pattern)
                && p.matches(subject)
            {
                assert!(
                    validate_namespace(subject).is_ok(),
                    "{pattern:?} matched the invalid namespace {subject:?}"
                );
            }
            let _ = Pattern::actor(pattern).map(|p| p.matches(subject));
            let _ = matches_pattern(pattern, subject);
            let _ = is_wildcard(pattern);
            let _ = Filter::new().actor_pattern(pattern);
        });
}

/// The same over raw bytes read as text (lossily), which reaches separators
/// and wildcards more often than random `String`s.
#[test]
fn pattern_bytes_parse_without_panicking() {
    check!().for_each(|bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let (pattern, subject) = text.split_once('|').unwrap_or((&text, "a.b"));
        if let Ok(p) = Pattern::namespace(pattern)
            && p.matches(subject)
        {
            assert!(validate_namespace(subject).is_ok());
        }
        let _ = Pattern::actor(pattern).map(|p| p.matches(subject));
    });
}

/// What arrives from NATS is decoded with `Event::from_json_slice`: any bytes
/// give an event or an error, never a panic.
#[test]
fn wire_bytes_decode_without_panicking() {
    check!().for_each(|bytes: &[u8]| {
        if let Ok(event) = Event::from_json_slice(bytes) {
            // Whatever decodes re-encodes.
            event.to_json_bytes().expect("a decoded event encodes");
        }
    });
}
