//! How a node's actors of one type are reached as a whole ([`Actors`] for
//! a [`Host`]): evicted by shard or by id, handed states installed, idle
//! ones swept, all stopped at shutdown.

use std::sync::Arc;

use aether_core::ActorId;
use aether_core::aggregate::Behavior;

use super::actor::{Actor, Leave, evict, spawn};
use super::dehydrated::Dehydrated;
use super::host::{Actors, Cell, Eviction, Host};

impl<A: Behavior> Actors for Host<A> {
    fn evict_unit(&self, unit: u32, how: Eviction) -> Vec<ActorId> {
        let picked: Vec<Arc<Cell<A>>> = self
            .slots
            .iter()
            .filter(|c| c.unit == unit)
            .map(|c| c.value().clone())
            .collect();
        let ids = picked.iter().map(|c| c.id.clone()).collect();
        if let Some(host) = picked.first().and_then(|c| c.host.upgrade()) {
            for cell in &picked {
                evict(&host, cell, how);
            }
        }
        ids
    }

    fn evict_these(&self, ids: &mut Vec<ActorId>, how: Eviction) {
        ids.retain(|id| match self.cell(id) {
            Some(cell) => {
                if let Some(host) = cell.host.upgrade() {
                    evict(&host, &cell, how);
                }
                true
            }
            None => false,
        });
    }

    fn take_docked(&self, unit: u32) -> Vec<Dehydrated> {
        self.dock_take(unit)
    }

    fn install(self: Arc<Self>, state: Dehydrated) -> Result<bool, aether_core::Error> {
        super::handoff::install(&self, state)
    }

    fn active(&self) -> usize {
        self.slots.len()
    }

    fn ids(&self) -> Vec<ActorId> {
        self.slots.iter().map(|s| s.key().clone()).collect()
    }

    fn sweep(&self, now: u64) {
        let idle = u64::try_from(self.config.passivation.idle.as_millis()).unwrap_or(u64::MAX);
        let Some(before) = now.checked_sub(idle) else {
            return;
        };
        let idle: Vec<Arc<Cell<A>>> = self
            .slots
            .iter()
            .filter(|c| c.last_used() < before)
            .map(|c| c.value().clone())
            .collect();
        let Some(host) = idle.first().and_then(|c| c.host.upgrade()) else {
            return;
        };
        for cell in idle {
            let rest = {
                let mut st = cell.lock();
                if st.closed || !st.queue.is_empty() || cell.last_used() >= before {
                    continue;
                }
                st.rest.take()
            };
            // Someone runs it: it is not idle.
            if let Some(rest) = rest {
                Actor::take(host.clone(), cell, rest).passivate("idle");
            }
        }
    }

    fn stop_all(&self) {
        let cells: Vec<Arc<Cell<A>>> = self.slots.iter().map(|c| c.value().clone()).collect();
        let Some(host) = cells.first().and_then(|c| c.host.upgrade()) else {
            return;
        };
        for cell in cells {
            let rest = cell.lock().rest.take();
            // Running: its runner sees the shutdown when it looks for its
            // next message.
            if let Some(rest) = rest {
                let actor = Actor::take(host.clone(), cell, rest);
                spawn(actor.leave(Leave::Shutdown));
            }
        }
    }
}
