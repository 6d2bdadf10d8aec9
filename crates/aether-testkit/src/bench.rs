//! What the benchmarks share: medians, this process's CPU time, and the
//! event they all store (about 250 bytes of JSON, like the raw figures in
//! `NATS.md`), and where their loops run ([`in_task`]), so that figures of
//! different benches compare.
//!
//! ```
//! use aether_core::ActorId;
//! use aether_testkit::bench;
//! assert_eq!(bench::median(vec![3.0, 1.0, 2.0]), 2.0);
//! assert!(bench::median(Vec::new()).is_nan());
//! let e = bench::deposit(&ActorId::new("account-1").unwrap(), 7);
//! assert_eq!(e.version, 7);
//! let before = bench::cpu_ns();
//! assert!(bench::cpu_ns() >= before);
//! // Another process's CPU time (0 where `/proc` does not say).
//! let _server_ns: u64 = bench::process_cpu_ns(std::process::id());
//! ```

use aether_core::{ActorId, Event, json};

/// The median of `v` (the upper one of an even count); NaN when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU time used so far by this process's threads (the client; a server is
/// another process), in nanoseconds, from `/proc/self/task/*/schedstat`
/// (0 where unavailable).
pub fn cpu_ns() -> u64 {
    threads_cpu_ns("/proc/self/task")
}

/// CPU time used so far by process `pid` (a spawned nats-server: see
/// [`crate::NatsServer::pid`]), in nanoseconds; 0 where unavailable.
pub fn process_cpu_ns(pid: u32) -> u64 {
    threads_cpu_ns(&format!("/proc/{pid}/task"))
}

fn threads_cpu_ns(tasks: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir(tasks) else {
        return 0;
    };
    dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Runs a benchmark's `work` where service code runs: in a task on one of
/// the runtime's workers (an actor's turn, a request handler), not on the
/// thread blocked in `#[tokio::main]`. There every wake-up of the loop
/// crosses threads through the kernel (about 5 context switches per
/// request/reply instead of 1, measured on the store's sequential append),
/// which would time the harness more than the code. With
/// `BENCH_THREAD=main` the work runs on that thread instead, to show the
/// difference. A panic in `work` is re-raised here.
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// let sum = aether_testkit::bench::in_task(async { 1 + 1 }).await;
/// assert_eq!(sum, 2);
/// # }
/// ```
pub async fn in_task<F>(work: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    if std::env::var("BENCH_THREAD").is_ok_and(|t| t == "main") {
        return work.await;
    }
    match tokio::spawn(work).await {
        Ok(out) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The benchmarks' event: a `Deposited` of `actor` at `version`, about 250
/// bytes encoded.
pub fn deposit(actor: &ActorId, version: u64) -> Event {
    Event::new(
        actor.clone(),
        version,
        "Deposited",
        json!({ "amount": version, "memo": "x".repeat(40) }),
    )
}
