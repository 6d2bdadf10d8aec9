//! Which client has which [`Refusals`]: async-nats gives a client no slot
//! of its own, so the record is found by the client's connection. Every
//! clone of a client shares one `Statistics` (an `Arc` made per
//! connection); a table keyed by it, holding it weakly, tells the record.
//! Consulted when a component opens, never per operation.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_nats::{Client, Statistics};

use super::registry::Refusals;

/// Connections (by their statistics) and their records. A dead connection's
/// entry is dropped at the next attach or look-up; its `Weak` keeps the
/// address from being reused by another connection meanwhile.
static CLIENTS: Mutex<Vec<(Weak<Statistics>, Refusals)>> = Mutex::new(Vec::new());

fn clients() -> MutexGuard<'static, Vec<(Weak<Statistics>, Refusals)>> {
    let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    clients.retain(|(connection, _)| connection.strong_count() > 0);
    clients
}

impl Refusals {
    /// Makes this the record of `client`'s connection (and of every clone
    /// of `client`), where components opened on it find it with
    /// [`Refusals::of`]; replaces a record attached before. Attach the
    /// record whose [`install`](Self::install)ed callback (or
    /// [`on_event`](Self::on_event) calls) the connection feeds: attached
    /// to another connection's client, it would report the wrong
    /// connection's refusals.
    ///
    /// # Examples
    ///
    /// See [`Refusals`].
    pub fn attach(&self, client: &Client) {
        let connection = Arc::downgrade(&client.statistics());
        let mut clients = clients();
        match clients.iter_mut().find(|(c, _)| c.ptr_eq(&connection)) {
            Some((_, refusals)) => *refusals = self.clone(),
            None => clients.push((connection, self.clone())),
        }
    }

    /// The record attached to `client`'s connection: every client dialed by
    /// [`crate::connect`] or [`crate::connect_with`] has one; a client built
    /// otherwise has one only once [`attach`](Self::attach)ed.
    ///
    /// # Examples
    ///
    /// See [`Refusals`].
    pub fn of(client: &Client) -> Option<Refusals> {
        let connection = client.statistics();
        clients()
            .iter()
            .find(|(c, _)| std::ptr::eq(c.as_ptr(), Arc::as_ptr(&connection)))
            .map(|(_, refusals)| refusals.clone())
    }
}
