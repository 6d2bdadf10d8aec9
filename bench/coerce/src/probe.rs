//! What a timed section cost, per command: this process's CPU time and
//! context switches (`getrusage(RUSAGE_SELF)`: all threads, including ones
//! that ended), its allocator calls (the counting allocator), and the CPU
//! time of the servers it talked to (their threads' `schedstat` run times,
//! in nanoseconds; `/proc/<pid>/stat` utime + stime in 10 ms ticks where
//! that is missing).

use std::future::Future;
use std::time::Instant;

use crate::alloc;

/// A server process whose CPU a section also charges: its name and pid.
#[derive(Debug, Clone, Copy)]
pub struct Server {
    pub name: &'static str,
    pub pid: u32,
}

/// The counters at one instant.
struct Counters {
    at: Instant,
    cpu_us: f64,
    switches: u64,
    allocs: u64,
    servers: Vec<Option<f64>>,
}

fn rusage() -> (f64, u64) {
    // SAFETY: `getrusage` fills the zeroed struct it is given and reads
    // nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a `rusage`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return (f64::NAN, 0);
    }
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    (
        us(u.ru_utime) + us(u.ru_stime),
        (u.ru_nvcsw + u.ru_nivcsw) as u64,
    )
}

/// CPU time of process `pid` so far, in microseconds: the sum of its
/// threads' `schedstat` run times (nanoseconds; a thread that ended during
/// the section drops out, which a server's long-lived threads do not), or
/// else `/proc/<pid>/stat`'s utime + stime (clock ticks).
pub fn process_cpu_us(pid: u32) -> Option<f64> {
    match aether_testkit::bench::process_cpu_ns(pid) {
        0 => stat_cpu_us(pid),
        ns => Some(ns as f64 / 1e3),
    }
}

/// `/proc/<pid>/stat`'s utime + stime, in microseconds (10 ms ticks).
fn stat_cpu_us(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the fields
    // after the last ')' start at field 3 (state); utime and stime are
    // fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: `sysconf` reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) * 1e6 / ticks)
}

/// This process's resident set, in bytes (`VmRSS`).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

impl Counters {
    fn take(servers: &[Server]) -> Self {
        let (cpu_us, switches) = rusage();
        Self {
            at: Instant::now(),
            cpu_us,
            switches,
            allocs: alloc::calls(),
            servers: servers.iter().map(|s| process_cpu_us(s.pid)).collect(),
        }
    }
}

/// What one timed section cost per command (and its wall time).
#[derive(Debug, Clone)]
pub struct Profile {
    /// Wall time of the whole section, in seconds.
    pub secs: f64,
    /// This process's CPU per command, µs.
    pub cpu_us: f64,
    /// This process's context switches (voluntary + involuntary) per command.
    pub switches: f64,
    /// Allocator calls per command (this process, all threads).
    pub allocs: f64,
    /// Each server's CPU per command, µs.
    pub servers: Vec<(&'static str, f64)>,
}

impl Profile {
    /// Commands per second.
    pub fn rate(&self, n: u64) -> f64 {
        n as f64 / self.secs
    }
}

/// Runs `work` (`n` commands) and returns what it cost per command.
pub async fn measure<T>(n: u64, servers: &[Server], work: impl Future<Output = T>) -> (Profile, T) {
    let before = Counters::take(servers);
    let out = work.await;
    let after = Counters::take(servers);
    let n = n.max(1) as f64;
    let profile = Profile {
        secs: after.at.duration_since(before.at).as_secs_f64(),
        cpu_us: (after.cpu_us - before.cpu_us) / n,
        switches: after.switches.saturating_sub(before.switches) as f64 / n,
        allocs: after.allocs.saturating_sub(before.allocs) as f64 / n,
        servers: servers
            .iter()
            .zip(before.servers.iter().zip(&after.servers))
            .map(|(s, (b, a))| match (b, a) {
                (Some(b), Some(a)) => (s.name, (a - b) / n),
                _ => (s.name, f64::NAN),
            })
            .collect(),
    };
    (profile, out)
}

/// The `p` quantile of `v` (nearest rank); NaN when empty.
pub fn quantile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs `n` calls of `call` one after another; each one's time, in µs.
pub async fn latencies<F, Fut>(n: usize, mut call: F) -> Vec<f64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        call().await;
        out.push(t.elapsed().as_secs_f64() * 1e6);
    }
    out
}
