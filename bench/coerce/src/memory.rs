//! Scenarios 1–4 and 6: both sides on their in-memory stores.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aether_cluster::runtime::{ActorRef, ActorSystem};
use aether_core::{ActorId, EventStore};
use aether_store_memory::InMemoryEventStore;
use coerce::actor::system::ActorSystem as CoerceSystem;
use coerce::actor::{IntoActor, LocalActorRef};
use coerce::persistent::Persistence;
use coerce::persistent::journal::provider::inmemory::InMemoryStorageProvider;

use crate::ledger::raw::RawLedger;
use crate::ledger::{aether as al, coerce as cl};
use crate::probe::{latencies, measure, quantile};
use crate::report::{AETHER, COERCE, Table};
use crate::{Bench, callers, rotated, slice};

const RAW: &str = "raw";

pub async fn aether_system(store: InMemoryEventStore) -> ActorSystem {
    ActorSystem::builder()
        .events(store)
        .register::<al::Ledger>(al::config())
        .start()
        .await
        .expect("Aether's system starts")
}

pub fn coerce_system(persistence: &Persistence) -> CoerceSystem {
    CoerceSystem::new().to_persistent(persistence.clone())
}

pub fn coerce_memory() -> Persistence {
    Persistence::from(InMemoryStorageProvider::new())
}

pub fn aether_id(name: &str) -> ActorId {
    ActorId::new(format!("ledger-{name}")).expect("a valid id")
}

pub async fn aether_deposit(r: &ActorRef<al::Ledger>) {
    r.ask(al::Deposit { amount: 1 })
        .await
        .expect("Aether's ask");
}

pub async fn coerce_deposit(r: &LocalActorRef<cl::Ledger>) {
    r.send(cl::Deposit { amount: 1 })
        .await
        .expect("coerce's send")
        .expect("coerce's deposit");
}

pub async fn coerce_spawn(sys: &CoerceSystem, name: String) -> LocalActorRef<cl::Ledger> {
    cl::Ledger::default()
        .into_actor(Some(name), sys)
        .await
        .expect("coerce's actor starts")
}

/// 1. One actor, sequential asks from a task: p50, p99.
pub async fn local_ask(b: &mut Bench) {
    let n = b.sizes.seq_asks;
    let mut t = Table::new(
        format!("1. local ask, one actor, sequential, memory store ({n} asks per side per round)"),
        &["p50 µs", "p99 µs"],
    );
    t.note("raw: a tokio task owning a Vec, bounded mpsc in, oneshot out, JSON-encodes the event and pushes it");
    let system = aether_system(InMemoryEventStore::new()).await;
    let a = system
        .get::<al::Ledger>(aether_id("seq"))
        .expect("registered");
    let persistence = coerce_memory();
    let csys = coerce_system(&persistence);
    let c = coerce_spawn(&csys, "ledger-seq".into()).await;
    let raw = RawLedger::spawn();
    for _ in 0..n / 10 + 1 {
        aether_deposit(&a).await;
        coerce_deposit(&c).await;
        raw.deposit(1).await;
    }
    for round in 0..b.rounds {
        for side in rotated(&[AETHER, COERCE, RAW], round) {
            let (p, mut lat) = match side {
                AETHER => {
                    let a = &a;
                    measure(n as u64, &[], latencies(n, || aether_deposit(a))).await
                }
                COERCE => {
                    let c = &c;
                    measure(n as u64, &[], latencies(n, || coerce_deposit(c))).await
                }
                _ => {
                    let raw = &raw;
                    measure(
                        n as u64,
                        &[],
                        latencies(n, || async move {
                            raw.deposit(1).await;
                        }),
                    )
                    .await
                }
            };
            t.add(side, "p50 µs", quantile(&mut lat, 0.5));
            t.add(side, "p99 µs", quantile(&mut lat, 0.99));
            t.profile(side, &p);
        }
    }
    t.print();
    b.memory_rows
        .push(t.summary("local ask, one actor, sequential: p50", "p50 µs", &[RAW]));
    b.memory_rows
        .push(t.summary("local ask, one actor, sequential: p99", "p99 µs", &[RAW]));
    system.shutdown().await.expect("Aether's shutdown");
    csys.shutdown().await;
}

/// 2. 64 callers on one actor: commands/s.
pub async fn one_actor_callers(b: &mut Bench) {
    const CALLERS: usize = 64;
    let per = b.sizes.one_actor_per_caller;
    let total = (CALLERS * per) as u64;
    let mut t = Table::new(
        format!(
            "2. {CALLERS} concurrent callers on one actor, memory store ({total} commands per side per round)"
        ),
        &["commands/s"],
    );
    t.note("raw: the task of scenario 1, 64 callers");
    let system = aether_system(InMemoryEventStore::new()).await;
    let a = system
        .get::<al::Ledger>(aether_id("hot"))
        .expect("registered");
    let persistence = coerce_memory();
    let csys = coerce_system(&persistence);
    let c = coerce_spawn(&csys, "ledger-hot".into()).await;
    let raw = RawLedger::spawn();
    aether_deposit(&a).await;
    coerce_deposit(&c).await;
    for round in 0..b.rounds {
        for side in rotated(&[AETHER, COERCE, RAW], round) {
            let (p, ()) = match side {
                AETHER => {
                    let work = callers(CALLERS, |_| {
                        let a = a.clone();
                        async move {
                            for _ in 0..per {
                                aether_deposit(&a).await;
                            }
                        }
                    });
                    measure(total, &[], work).await
                }
                COERCE => {
                    let work = callers(CALLERS, |_| {
                        let c = c.clone();
                        async move {
                            for _ in 0..per {
                                coerce_deposit(&c).await;
                            }
                        }
                    });
                    measure(total, &[], work).await
                }
                _ => {
                    let work = callers(CALLERS, |_| {
                        let raw = raw.clone();
                        async move {
                            for _ in 0..per {
                                raw.deposit(1).await;
                            }
                        }
                    });
                    measure(total, &[], work).await
                }
            };
            t.add(side, "commands/s", p.rate(total));
            t.profile(side, &p);
        }
    }
    t.print();
    b.memory_rows
        .push(t.summary("64 callers on one actor", "commands/s", &[RAW]));
    system.shutdown().await.expect("Aether's shutdown");
    csys.shutdown().await;
}

/// 3. 10,000 actors, all active, 256 callers each walking its own slice.
pub async fn many_actors_warm(b: &mut Bench) {
    const CALLERS: usize = 256;
    let (n, passes) = (b.sizes.actors, b.sizes.warm_passes);
    let total = (n * passes) as u64;
    let mut t = Table::new(
        format!(
            "3. {n} actors, {CALLERS} callers, warm, memory store ({total} commands per side per round)"
        ),
        &["commands/s"],
    );
    t.note("raw: one task of scenario 1 per actor; refs held by the callers on every side");
    let system = aether_system(InMemoryEventStore::new()).await;
    let a: Arc<Vec<ActorRef<al::Ledger>>> = Arc::new(
        (0..n)
            .map(|i| {
                system
                    .get::<al::Ledger>(aether_id(&format!("w{i}")))
                    .expect("registered")
            })
            .collect(),
    );
    let persistence = coerce_memory();
    let csys = coerce_system(&persistence);
    let mut c = Vec::with_capacity(n);
    for i in 0..n {
        c.push(coerce_spawn(&csys, format!("ledger-w{i}")).await);
    }
    let c = Arc::new(c);
    let raw: Arc<Vec<RawLedger>> = Arc::new((0..n).map(|_| RawLedger::spawn()).collect());
    // Activate everything (and touch every raw task) before timing.
    callers(CALLERS, |k| {
        let (a, c, raw) = (a.clone(), c.clone(), raw.clone());
        async move {
            for i in slice(k, CALLERS, n) {
                aether_deposit(&a[i]).await;
                coerce_deposit(&c[i]).await;
                raw[i].deposit(1).await;
            }
        }
    })
    .await;
    for round in 0..b.rounds {
        for side in rotated(&[AETHER, COERCE, RAW], round) {
            let work = callers(CALLERS, |k| {
                let (a, c, raw) = (a.clone(), c.clone(), raw.clone());
                async move {
                    for _ in 0..passes {
                        for i in slice(k, CALLERS, n) {
                            match side {
                                AETHER => aether_deposit(&a[i]).await,
                                COERCE => coerce_deposit(&c[i]).await,
                                _ => {
                                    raw[i].deposit(1).await;
                                }
                            }
                        }
                    }
                }
            });
            let (p, ()) = measure(total, &[], work).await;
            t.add(side, "commands/s", p.rate(total));
            t.profile(side, &p);
        }
    }
    t.print();
    b.memory_rows.push(t.summary(
        &format!("{n} actors, {CALLERS} callers, warm"),
        "commands/s",
        &[RAW],
    ));
    system.shutdown().await.expect("Aether's shutdown");
    csys.shutdown().await;
}

/// 4. 10,000 actors touched for the first time: activation + one command.
pub async fn first_touch(b: &mut Bench) {
    const CALLERS: usize = 256;
    let n = b.sizes.actors;
    let mut t = Table::new(
        format!(
            "4. {n} actors, first touch (activation + one command), {CALLERS} callers, memory store, a fresh system per round"
        ),
        &["commands/s"],
    );
    t.note("coerce: the caller spawns the actor (into_actor: registration + recovery) and sends; raw: spawn a task, register its sender in a Mutex<HashMap>, one round trip");
    let aether_ids: Arc<Vec<ActorId>> =
        Arc::new((0..n).map(|i| aether_id(&format!("f{i}"))).collect());
    let names: Arc<Vec<String>> = Arc::new((0..n).map(|i| format!("ledger-f{i}")).collect());
    for round in 0..b.rounds {
        for side in rotated(&[AETHER, COERCE, RAW], round) {
            let p = match side {
                AETHER => {
                    let system = aether_system(InMemoryEventStore::new()).await;
                    let work = callers(CALLERS, |k| {
                        let (system, ids) = (system.clone(), aether_ids.clone());
                        async move {
                            for i in slice(k, CALLERS, n) {
                                let r = system
                                    .get::<al::Ledger>(ids[i].clone())
                                    .expect("registered");
                                aether_deposit(&r).await;
                            }
                        }
                    });
                    let (p, ()) = measure(n as u64, &[], work).await;
                    assert_eq!(system.active_actors(), n);
                    system.shutdown().await.expect("Aether's shutdown");
                    p
                }
                COERCE => {
                    let csys = coerce_system(&coerce_memory());
                    let work = callers(CALLERS, |k| {
                        let (csys, names) = (csys.clone(), names.clone());
                        async move {
                            for i in slice(k, CALLERS, n) {
                                let r = coerce_spawn(&csys, names[i].clone()).await;
                                coerce_deposit(&r).await;
                            }
                        }
                    });
                    let (p, ()) = measure(n as u64, &[], work).await;
                    csys.shutdown().await;
                    p
                }
                _ => {
                    let map: Arc<Mutex<HashMap<String, RawLedger>>> = Arc::default();
                    let work = callers(CALLERS, |k| {
                        let (map, names) = (map.clone(), names.clone());
                        async move {
                            for i in slice(k, CALLERS, n) {
                                let l = RawLedger::spawn();
                                map.lock()
                                    .expect("not poisoned")
                                    .insert(names[i].clone(), l.clone());
                                l.deposit(1).await;
                            }
                        }
                    });
                    let (p, ()) = measure(n as u64, &[], work).await;
                    p
                }
            };
            t.add(side, "commands/s", p.rate(n as u64));
            t.profile(side, &p);
        }
    }
    t.print();
    b.memory_rows.push(t.summary(
        &format!("{n} actors, first touch (activation)"),
        "commands/s",
        &[RAW],
    ));
}

/// 6. A fresh system loads a 10,000-event actor (no snapshot) and answers.
pub async fn cold_load(b: &mut Bench) {
    let events = b.sizes.cold_events;
    let mut t = Table::new(
        format!(
            "6. cold load of a {events}-event actor, no snapshot, memory store (a fresh system per round; first message to answer)"
        ),
        &["load ms"],
    );
    t.note("raw: Aether's InMemoryEventStore::read of the same events; `coerce store read`: InMemoryJournalStorage::read_latest_messages; profile figures are per load");
    let store = InMemoryEventStore::new();
    let id = aether_id("cold");
    {
        let system = aether_system(store.clone()).await;
        let r = system.get::<al::Ledger>(id.clone()).expect("registered");
        for _ in 0..events {
            aether_deposit(&r).await;
        }
        system.shutdown().await.expect("Aether's shutdown");
    }
    let persistence = coerce_memory();
    {
        let csys = coerce_system(&persistence);
        let r = coerce_spawn(&csys, "ledger-cold".into()).await;
        for _ in 0..events {
            coerce_deposit(&r).await;
        }
        csys.shutdown().await;
    }
    let journal = persistence
        .provider(TypeId::of::<cl::Ledger>())
        .journal_storage()
        .expect("the memory journal");
    const CSTORE: &str = "coerce store read";
    for round in 0..b.rounds {
        for side in rotated(&[AETHER, COERCE, RAW, CSTORE], round) {
            let p = match side {
                AETHER => {
                    let system = aether_system(store.clone()).await;
                    let (p, balance) = measure(1, &[], async {
                        system
                            .get::<al::Ledger>(id.clone())
                            .expect("registered")
                            .query(al::Balance)
                            .await
                            .expect("Aether's query")
                    })
                    .await;
                    assert_eq!(balance, events as u64);
                    system.shutdown().await.expect("Aether's shutdown");
                    p
                }
                COERCE => {
                    let csys = coerce_system(&persistence);
                    let (p, balance) = measure(1, &[], async {
                        coerce_spawn(&csys, "ledger-cold".into())
                            .await
                            .send(cl::Balance)
                            .await
                            .expect("coerce's query")
                    })
                    .await;
                    assert_eq!(balance, events as u64);
                    csys.shutdown().await;
                    p
                }
                RAW => {
                    let (p, read) = measure(1, &[], store.read(&id, 1)).await;
                    assert_eq!(read.expect("a read").len(), events);
                    p
                }
                _ => {
                    let (p, read) =
                        measure(1, &[], journal.read_latest_messages("ledger-cold", 0)).await;
                    assert_eq!(read.expect("a read").map_or(0, |m| m.len()), events);
                    p
                }
            };
            t.add(side, "load ms", p.secs * 1e3);
            t.profile(side, &p);
        }
    }
    t.print();
    b.memory_rows.push(t.summary(
        &format!("cold load of a {events}-event actor, no snapshot"),
        "load ms",
        &[RAW, CSTORE],
    ));
}
