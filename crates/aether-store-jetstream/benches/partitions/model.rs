//! The capacity model of the partitions benchmark: from the unit costs
//! measured on one stream (server CPU µs per append of a leader and of a
//! follower, client CPU µs per append, one stream's saturated rate), the
//! acknowledged appends/s that K partitions give on N servers each held to
//! `q` cores.
//!
//! - R1: partition `p` lives on one server; a server leading `L` partitions
//!   gives `min(q·10⁶ / leader_µs, L · stream_rate)`; the servers add up.
//! - R3 (every server holds a replica of every partition, N = R): a server
//!   leading `L` of K partitions spends `L·leader_µs + (K−L)·follower_µs`
//!   per append to every partition; with equal rates per partition (the
//!   writers are spread evenly) the most loaded server sets the rate:
//!   `K · min_i q·10⁶ / cost_i`, each partition at most `stream_rate`.
//! - Both: at most `10⁶ / client_µs` (the client has one core).
//!
//! The unit costs are the saturated runs of the unit-cost section (the
//! regime of the scale-out runs: servers CPU-bound), read back from the
//! results file, so a scale-out run alone uses the last unit costs measured.
//! They are measured on a whole core; a server held to a quota may spend
//! more per append (measured: 1.4× at 0.2 core), so the scale-out also prints the model
//! **calibrated** by its own K = 1 run: the servers' costs times the ratio of
//! the server CPU per append measured there to the model's, which is how a
//! user would size a cluster — one server measured at the intended size,
//! the rest predicted.

use std::path::Path;

/// The unit costs of one writer (ours or raw).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Costs {
    /// R1: server CPU µs per append of the stream's (only) server.
    pub(crate) r1_leader_us: f64,
    /// R1: one stream's saturated appends/s on a whole core.
    pub(crate) r1_stream_rate: f64,
    /// R3: server CPU µs per append of the leader.
    pub(crate) r3_leader_us: f64,
    /// R3: server CPU µs per append of a follower.
    pub(crate) r3_follower_us: f64,
    /// R3: one stream's saturated appends/s.
    pub(crate) r3_stream_rate: f64,
    /// Client CPU µs per append (R1 saturated).
    pub(crate) client_us: f64,
}

/// The unit costs of both writers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Model {
    pub(crate) ours: Costs,
    pub(crate) raw: Costs,
}

impl Costs {
    /// These costs with the servers' CPU per append times `factor` (the
    /// client's and one stream's rate unchanged): calibrated to servers
    /// held to a quota, which spend more per append than a whole core.
    pub(crate) fn scaled(self, factor: f64) -> Self {
        Self {
            r1_leader_us: self.r1_leader_us * factor,
            r3_leader_us: self.r3_leader_us * factor,
            r3_follower_us: self.r3_follower_us * factor,
            ..self
        }
    }

    /// The server CPU µs per append the model gives one partition led by
    /// one of `replicas` servers (leader and followers summed): what the
    /// K = 1 scale-out run measures.
    pub(crate) fn one_partition_us(&self, replicas: usize) -> f64 {
        if replicas == 1 {
            self.r1_leader_us
        } else {
            self.r3_leader_us + (replicas - 1) as f64 * self.r3_follower_us
        }
    }

    /// Predicted acknowledged appends/s of `leaders_per_server` (partitions
    /// led by each server) with `replicas`, each server held to `quota`
    /// cores.
    pub(crate) fn predict(&self, replicas: usize, quota: f64, leaders_per_server: &[usize]) -> f64 {
        let budget = quota * 1e6;
        let k: usize = leaders_per_server.iter().sum();
        let servers = if replicas == 1 {
            leaders_per_server
                .iter()
                .filter(|l| **l > 0)
                .map(|l| (budget / self.r1_leader_us).min(*l as f64 * self.r1_stream_rate))
                .sum::<f64>()
        } else {
            let per_partition = leaders_per_server
                .iter()
                .map(|l| {
                    let cost = *l as f64 * self.r3_leader_us + (k - l) as f64 * self.r3_follower_us;
                    budget / cost
                })
                .fold(f64::INFINITY, f64::min)
                .min(self.r3_stream_rate);
            k as f64 * per_partition
        };
        servers.min(1e6 / self.client_us)
    }
}

/// Reads the last saturated unit-cost lines (`units-r1`, `units-r3`) of
/// the results file; `None` when either is missing.
pub(crate) fn load(results: &Path) -> Option<Model> {
    let text = std::fs::read_to_string(results).ok()?;
    let (mut r1, mut r3) = (None, None);
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if !v["extra"]["offered"].is_null() {
            continue;
        }
        match v["mode"].as_str() {
            Some("units-r1") => r1 = Some(v),
            Some("units-r3") => r3 = Some(v),
            _ => {}
        }
    }
    let (r1, r3) = (r1?, r3?);
    let costs = |side: &str, leader: &str, follower: &str| -> Option<Costs> {
        Some(Costs {
            r1_leader_us: r1[side]["server_us"].as_f64()?,
            r1_stream_rate: r1[side]["rate"].as_f64()?,
            r3_leader_us: r3["extra"][leader].as_f64()?,
            r3_follower_us: r3["extra"][follower].as_f64()?,
            r3_stream_rate: r3[side]["rate"].as_f64()?,
            client_us: r1[side]["client_us"].as_f64()?,
        })
    };
    Some(Model {
        ours: costs("ours", "leader_us", "follower_us")?,
        raw: costs("raw", "leader_us_raw", "follower_us_raw")?,
    })
}

/// Checks the model's arithmetic on known inputs (run at the start of the
/// benchmark: a harness-less bench has no unit tests).
pub(crate) fn check() {
    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-6 * want, "model: {got} != {want}");
    }
    const C: Costs = Costs {
        r1_leader_us: 20.0,
        r1_stream_rate: 50_000.0,
        r3_leader_us: 40.0,
        r3_follower_us: 20.0,
        r3_stream_rate: 25_000.0,
        client_us: 5.0,
    };
    // R1: 0.2 core / 20 µs = 10,000/s per server; servers add up, a
    // second leader on a server adds nothing.
    close(C.predict(1, 0.2, &[1, 0, 0, 0]), 10_000.0);
    close(C.predict(1, 0.2, &[1, 1, 1, 1]), 40_000.0);
    close(C.predict(1, 0.2, &[2, 2, 2, 2]), 40_000.0);
    // R3: K = 1 the leader's 40 µs; K = 3 balanced 80 µs per round.
    close(C.predict(3, 0.2, &[1, 0, 0]), 5_000.0);
    close(C.predict(3, 0.2, &[1, 1, 1]), 7_500.0);
    // The client's core caps everything.
    close(C.predict(1, 10.0, &[8, 8, 8, 8]), 200_000.0);
    // Calibrated to a quota: the servers' costs scale, the caps do not.
    close(C.one_partition_us(3), 80.0);
    close(C.scaled(1.5).predict(1, 0.2, &[1, 1, 1, 1]), 40_000.0 / 1.5);
    close(C.scaled(2.0).predict(1, 10.0, &[8, 8, 8, 8]), 200_000.0);
}
