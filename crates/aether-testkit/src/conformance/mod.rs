//! The conformance suites: the behaviour every [`EventStore`] and
//! [`SnapshotStore`] backend must show, and (in [`bus`]) every event bus.
//!
//! Each case is a plain `pub async fn case<S: EventStore>(store: &S)` that
//! panics with a clear message when the store misbehaves. Every case uses its
//! own fresh actor ids (with a UUID inside), so one store may be shared by all
//! cases, in any order, and the suite may run twice on the same store.
//!
//! Two ways to run it:
//!
//! - **One test per case** with [`event_store_conformance!`](crate::event_store_conformance)
//!   and [`snapshot_store_conformance!`](crate::snapshot_store_conformance): give an
//!   async expression (an `async` block or any future) that creates a fresh
//!   store; the macro expands to one `#[test]` per case, each running on its own
//!   multi-thread tokio runtime with 2 workers (like
//!   `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`) with a
//!   120-second time limit. The calling crate needs no tokio dependency.
//! - **All cases in one call** with [`run_event_store_suite`] and
//!   [`run_snapshot_store_suite`].
//!
//! ```text
//! // tests/conformance.rs of a store crate (see aether-store-memory and
//! // aether-store-jetstream for real ones)
//! mod event_store {
//!     aether_testkit::event_store_conformance!(async { my_store::MyStore::new() });
//! }
//! mod snapshot_store {
//!     aether_testkit::snapshot_store_conformance!(async { my_store::MySnapshots::new() });
//! }
//!
//! // A store that needs something kept alive for the whole test (a server
//! // guard): return `(store, guard)` and use the `guarded:` form.
//! mod jetstream {
//!     aether_testkit::event_store_conformance!(guarded: async {
//!         let server = aether_testkit::NatsServer::start().await;
//!         let store = my_store::connect(&server.url()).await.unwrap();
//!         (store, server)
//!     });
//! }
//!
//! #[tokio::test]
//! async fn whole_suite_on_one_shared_store() {
//!     let store = my_store::MyStore::new();
//!     aether_testkit::conformance::run_event_store_suite(&store).await;
//! }
//! ```
//!
//! Rules the cases pin down beyond the trait docs: reading never creates an
//! actor; a batch whose first version contradicts its expectation (`NoStream`
//! not starting at 1, `Exact(n)` not at n + 1) stores nothing and is refused as
//! invalid input or a conflict; events of up to 512 KiB must be accepted and
//! larger ones are stored whole or refused with `Error::TooLarge`; actor ids
//! that differ in any byte or in their explicit actor type are different actors.
//!
//! [`EventStore`]: aether_core::EventStore
//! [`SnapshotStore`]: aether_core::SnapshotStore

mod actor_ids;
mod batches;
pub mod bus;
mod concurrency;
mod conflicts;
mod log;
mod ordering;
mod payloads;
mod snapshot_store;
mod support;

use std::future::Future;
use std::time::Duration;

use aether_core::{EventStore, SnapshotStore};

pub use actor_ids::{
    long_actor_ids_are_isolated, odd_actor_ids_are_isolated, typed_actor_ids_are_isolated,
};
pub use batches::{
    batch_contradicting_expectation_stores_nothing, batch_expected_any, batch_expected_exact,
    batch_expected_no_stream, batch_with_bad_versions_is_invalid,
    batch_with_wrong_actor_is_invalid, empty_batch_is_invalid, failed_batch_stores_nothing,
    large_batch_is_stored_whole,
};
pub use concurrency::{
    racing_appends_have_one_winner, racing_batches_have_one_winner,
    retrying_writers_leave_gapless_history,
};
pub use conflicts::{
    conflict_displays_details, conflict_on_lower_version, conflict_on_same_version,
    invalid_events_are_rejected,
};
pub use log::{
    log_catches_up_then_follows_live, log_head_follows_appends, log_orders_every_append,
    log_refuses_a_foreign_cursor, log_resumes_after_a_position, log_resumes_from_a_cursor,
    log_selects_actor_types, log_selects_partitions,
};
pub use ordering::{
    appends_are_read_in_order, latest_version_tracks_appends, nonexistent_actor_is_empty,
    read_beyond_latest_is_empty, read_from_version, read_with_errors_is_clean,
};
pub use payloads::{
    data_given_as_text_round_trips, events_round_trip_exactly, extreme_versions_never_panic,
    large_payload_round_trips, oversized_payload_is_whole_or_too_large,
};
pub use snapshot_store::{
    snapshot_absent_is_none, snapshot_keeps_only_latest, snapshot_large_state_round_trips,
    snapshot_lower_version_does_not_replace, snapshot_round_trips,
    snapshots_of_actors_are_independent,
};

#[doc(hidden)]
pub use tokio as __tokio;

/// How long one case may run in the macro-generated tests.
pub const CASE_TIME_LIMIT: Duration = Duration::from_secs(120);

/// Calls `$callback! { $args ; event_store_case, ... }` (the callback may be a path) with every event store case.
#[doc(hidden)]
#[macro_export]
macro_rules! __event_store_cases {
    ($($callback:tt)::+ ! { $($args:tt)* }) => {
        $($callback)::+ ! { $($args)* ;
            appends_are_read_in_order,
            read_from_version,
            read_beyond_latest_is_empty,
            latest_version_tracks_appends,
            nonexistent_actor_is_empty,
            read_with_errors_is_clean,
            conflict_on_same_version,
            conflict_on_lower_version,
            conflict_displays_details,
            invalid_events_are_rejected,
            batch_expected_any,
            batch_expected_no_stream,
            batch_expected_exact,
            batch_contradicting_expectation_stores_nothing,
            failed_batch_stores_nothing,
            batch_with_wrong_actor_is_invalid,
            batch_with_bad_versions_is_invalid,
            empty_batch_is_invalid,
            large_batch_is_stored_whole,
            racing_appends_have_one_winner,
            racing_batches_have_one_winner,
            retrying_writers_leave_gapless_history,
            odd_actor_ids_are_isolated,
            long_actor_ids_are_isolated,
            typed_actor_ids_are_isolated,
            large_payload_round_trips,
            oversized_payload_is_whole_or_too_large,
            events_round_trip_exactly,
            data_given_as_text_round_trips,
            extreme_versions_never_panic,
        }
    };
}

/// Calls `$callback! { $args ; snapshot_store_case, ... }` (the callback may be a path) with every snapshot store case.
#[doc(hidden)]
#[macro_export]
macro_rules! __snapshot_store_cases {
    ($($callback:tt)::+ ! { $($args:tt)* }) => {
        $($callback)::+ ! { $($args)* ;
            snapshot_absent_is_none,
            snapshot_round_trips,
            snapshot_keeps_only_latest,
            snapshot_lower_version_does_not_replace,
            snapshots_of_actors_are_independent,
            snapshot_large_state_round_trips,
        }
    };
}

/// Expands to one `#[test]` per case.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    (plain $make:expr ; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::__run_case(stringify!($case), async {
                    let store = $make.await;
                    $crate::conformance::$case(&store).await;
                });
            }
        )*
    };
    (guarded $make:expr ; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::__run_case(stringify!($case), async {
                    let (store, guard) = $make.await;
                    $crate::conformance::$case(&store).await;
                    drop(store);
                    drop(guard);
                });
            }
        )*
    };
}

/// Runs every case in sequence on one store.
macro_rules! suite_fn {
    ($(#[$doc:meta])* $name:ident, $bound:ident ; $($case:ident),* $(,)?) => {
        $(#[$doc])*
        pub async fn $name<S: $bound>(store: &S) {
            $( $case(store).await; )*
        }
    };
}

macro_rules! event_store_suite_fn {
    ($($tt:tt)*) => {
        suite_fn! {
            /// Runs every event store case, in sequence, on `store`.
            run_event_store_suite, EventStore $($tt)*
        }
    };
}

macro_rules! snapshot_store_suite_fn {
    ($($tt:tt)*) => {
        suite_fn! {
            /// Runs every snapshot store case, in sequence, on `store`.
            run_snapshot_store_suite, SnapshotStore $($tt)*
        }
    };
}

__event_store_cases!(event_store_suite_fn! {});

/// Runs every global log case ([`aether_core::EventLog`]), in sequence, on
/// `store` (needs a Tokio runtime).
pub async fn run_log_suite<S>(store: &S)
where
    S: EventStore + aether_core::EventLog + Clone + 'static,
{
    log_orders_every_append(store).await;
    log_catches_up_then_follows_live(store).await;
    log_resumes_after_a_position(store).await;
    log_resumes_from_a_cursor(store).await;
    log_selects_actor_types(store).await;
    log_selects_partitions(store).await;
    log_head_follows_appends(store).await;
    log_refuses_a_foreign_cursor(store).await;
}
__snapshot_store_cases!(snapshot_store_suite_fn! {});

/// Expands to one test per event store conformance case.
///
/// Give an async expression (an `async` block or a future) that creates a
/// fresh store implementing [`aether_core::EventStore`]; it is evaluated once
/// per test. With `guarded:`, the expression yields `(store, guard)` and the
/// guard (a server, a temp dir) lives until the case ends. Each test runs on a
/// fresh multi-thread tokio runtime with 2 workers, within
/// [`conformance::CASE_TIME_LIMIT`](crate::conformance::CASE_TIME_LIMIT).
/// Put each invocation in its own module, since the tests are named after the
/// cases.
///
/// ```
/// mod memory {
///     aether_testkit::event_store_conformance!(async {
///         aether_store_memory::InMemoryEventStore::new()
///     });
/// }
/// ```
#[macro_export]
macro_rules! event_store_conformance {
    (guarded: $make:expr $(,)?) => {
        $crate::__event_store_cases!($crate::__conformance_tests! { guarded $make });
    };
    ($make:expr $(,)?) => {
        $crate::__event_store_cases!($crate::__conformance_tests! { plain $make });
    };
}

/// Expands to one test per snapshot store conformance case; used like
/// [`event_store_conformance!`](crate::event_store_conformance), with a store
/// implementing [`aether_core::SnapshotStore`].
///
/// ```
/// mod memory_snapshots {
///     aether_testkit::snapshot_store_conformance!(async {
///         aether_store_memory::InMemorySnapshotStore::new()
///     });
/// }
/// ```
#[macro_export]
macro_rules! snapshot_store_conformance {
    (guarded: $make:expr $(,)?) => {
        $crate::__snapshot_store_cases!($crate::__conformance_tests! { guarded $make });
    };
    ($make:expr $(,)?) => {
        $crate::__snapshot_store_cases!($crate::__conformance_tests! { plain $make });
    };
}

/// Runs one macro-generated case on a fresh multi-thread runtime (2 workers)
/// within [`CASE_TIME_LIMIT`].
#[doc(hidden)]
pub fn __run_case<F: Future<Output = ()>>(name: &str, case: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("conformance case {name}: cannot build a tokio runtime: {e}"));
    runtime.block_on(async {
        if tokio::time::timeout(CASE_TIME_LIMIT, case).await.is_err() {
            panic!("conformance case {name} did not finish within {CASE_TIME_LIMIT:?}");
        }
    });
}
