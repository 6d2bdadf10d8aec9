//! The Aether examples as a library, so tests can run them.
//!
//! Each module is one example file, compiled here as well as on its own
//! (`cargo run --example NAME`); its `run` function is the whole example
//! and its `main` (unused here) only calls it. `tests/run_examples.rs` runs
//! every `run` against a real `nats-server`.

// Each example includes the shared modules it uses (`shared/*.rs`) itself,
// so that it also builds on its own; here they are loaded once per example.
#![allow(clippy::duplicate_mod)]

// The examples' `main`s and the helpers only they use are dead code here.
#[allow(dead_code)]
#[path = "process_manager.rs"]
pub mod process_manager;

#[allow(dead_code)]
#[path = "quickstart.rs"]
pub mod quickstart;

#[allow(dead_code)]
#[path = "retry_patterns.rs"]
pub mod retry_patterns;

#[allow(dead_code)]
#[path = "jetstream_bank.rs"]
pub mod jetstream_bank;

#[allow(dead_code)]
#[path = "event_bus.rs"]
pub mod event_bus;

#[allow(dead_code)]
#[path = "cluster.rs"]
pub mod cluster;

#[allow(dead_code)]
#[path = "actors_cluster.rs"]
pub mod actors_cluster;

#[allow(dead_code)]
#[path = "actors_handoff.rs"]
pub mod actors_handoff;

#[allow(dead_code)]
#[path = "model_cluster.rs"]
pub mod model_cluster;

#[allow(dead_code)]
#[path = "projection_sqlite.rs"]
pub mod projection_sqlite;
