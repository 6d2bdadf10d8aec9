//! Scenarios 8–11: Aether on JetStream (R1 file), coerce on coerce-redis
//! with a real redis-server (AOF on), and the raw floors of both stores.

use std::any::TypeId;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use aether_cluster::runtime::{ActorRef, ActorSystem};
use aether_core::{Event, EventStore, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use coerce::actor::LocalActorRef;
use coerce::actor::system::ActorSystem as CoerceSystem;
use coerce::persistent::Persistence;
use coerce::persistent::journal::storage::JournalEntry;
use coerce_redis::journal::{RedisStorageConfig, RedisStorageProvider};
use redis::aio::MultiplexedConnection;

use crate::ledger::{aether as al, coerce as cl};
use crate::memory::{aether_deposit, aether_id, coerce_deposit, coerce_spawn};
use crate::probe::{Server, latencies, measure, quantile};
use crate::redis_server::RedisServer;
use crate::report::{AETHER, COERCE, Table};
use crate::{Bench, callers, rotated, slice};

const RAW_JS: &str = "raw JetStream";
const RAW_REDIS: &str = "raw Redis";

fn js_config() -> JetStreamConfig {
    JetStreamConfig {
        stream_name: "CB".into(),
        namespace: "d".into(),
        ..JetStreamConfig::default()
    }
}

fn redis_config(url: &str) -> RedisStorageConfig {
    RedisStorageConfig {
        nodes: vec![url.to_string()],
        key_prefix: "cb:".into(),
        cluster: false,
        use_key_hashtags: false,
    }
}

/// A coerce system journaling to Redis through coerce-redis (its journal
/// actor, one multiplexed connection).
async fn coerce_redis(url: &str) -> (CoerceSystem, Persistence) {
    let sys = CoerceSystem::new();
    let provider = RedisStorageProvider::connect(redis_config(url), &sys).await;
    let persistence = Persistence::from(provider);
    (sys.to_persistent(persistence.clone()), persistence)
}

/// The raw OCC append: publish with the expected last subject sequence,
/// wait for the ack; the new sequence.
async fn occ_publish(
    js: &async_nats::jetstream::Context,
    subject: String,
    payload: &Bytes,
    last: u64,
) -> u64 {
    js.send_publish(
        subject,
        PublishMessage::build()
            .payload(payload.clone())
            .expected_last_subject_sequence(last),
    )
    .await
    .expect("raw publish sent")
    .await
    .expect("raw publish acknowledged")
    .sequence
}

/// A plain publish, waiting for the ack.
async fn publish(js: &async_nats::jetstream::Context, subject: String, payload: &Bytes) {
    js.publish(subject, payload.clone())
        .await
        .expect("raw publish sent")
        .await
        .expect("raw publish acknowledged");
}

/// The bytes coerce-redis writes for one event: the `JournalEntry` of
/// sequence `seq`, type `Deposited` and the event's JSON.
fn journal_entry(seq: i64) -> Vec<u8> {
    JournalEntry {
        sequence: seq,
        payload_type: cl::DEPOSITED.into(),
        bytes: Arc::new(serde_json::to_vec(&cl::Deposited { amount: 1 }).expect("encodes")),
    }
    .write_to_bytes()
    .expect("a journal entry encodes")
}

/// The raw Redis write: `ZADD key seq entry`, as coerce-redis sends it.
async fn zadd(conn: &MultiplexedConnection, key: &str, seq: i64) {
    let mut conn = conn.clone();
    redis::cmd("ZADD")
        .arg(key)
        .arg(seq)
        .arg(journal_entry(seq))
        .query_async::<_, ()>(&mut conn)
        .await
        .expect("raw ZADD");
}

/// Everything the durable scenarios share.
pub struct Durable {
    nats_url: String,
    redis_url: String,
    servers: [Server; 2],
    store: JetStreamEventStore,
    aether: ActorSystem,
    csys: CoerceSystem,
    js: async_nats::jetstream::Context,
    conn: MultiplexedConnection,
    /// What Aether stores for one event (raw JetStream publishes it).
    event: Bytes,
    seq: AtomicI64,
}

impl Durable {
    pub async fn start(_b: &Bench, nats: &NatsServer, redis: &RedisServer) -> Self {
        let store = JetStreamEventStore::connect(nats.url(), js_config())
            .await
            .expect("Aether's JetStream store opens");
        let aether = ActorSystem::builder()
            .events(store.clone())
            .register::<al::Ledger>(al::config())
            .start()
            .await
            .expect("Aether's system starts");
        let (csys, _) = coerce_redis(&redis.url()).await;
        let js = async_nats::jetstream::new(
            async_nats::connect(nats.url()).await.expect("raw connects"),
        );
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "CBRAW".into(),
            subjects: vec!["cbraw.>".into()],
            ..Default::default()
        })
        .await
        .expect("the raw stream");
        let conn = redis::Client::open(redis.url())
            .expect("a redis client")
            .get_multiplexed_tokio_connection()
            .await
            .expect("raw redis connects");
        let event = Bytes::from(
            Event::new(aether_id("d"), 1, "Deposited", json!({"amount": 1}))
                .to_json_bytes()
                .expect("encodes"),
        );
        Self {
            nats_url: nats.url(),
            redis_url: redis.url(),
            servers: [
                Server {
                    name: "nats-server",
                    pid: nats.pid().expect("nats-server runs"),
                },
                Server {
                    name: "redis-server",
                    pid: redis.pid(),
                },
            ],
            store,
            aether,
            csys,
            js,
            conn,
            event,
            seq: AtomicI64::new(0),
        }
    }

    pub fn nats_version(&self) -> String {
        self.store.client().server_info().version
    }

    fn next_seq(&self) -> i64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    fn aether(&self, name: &str) -> ActorRef<al::Ledger> {
        self.aether
            .get::<al::Ledger>(aether_id(name))
            .expect("registered")
    }

    async fn coerce(&self, name: &str) -> LocalActorRef<cl::Ledger> {
        coerce_spawn(&self.csys, format!("ledger-{name}")).await
    }

    /// 8. One actor, 64 callers.
    pub async fn one_actor_callers(&self, b: &mut Bench) {
        const CALLERS: usize = 64;
        let per = b.sizes.durable_per_caller;
        let total = (CALLERS * per) as u64;
        let mut t = Table::new(
            format!(
                "8. one actor, {CALLERS} callers, durable ({total} commands per side per round)"
            ),
            &["commands/s"],
        );
        t.note("raw JetStream: 64 publishes in flight on one subject, each waiting for its ack (no expected sequence: concurrent writers cannot have one); raw Redis: 64 ZADDs in flight on one key, one multiplexed connection");
        let a = self.aether("d8");
        let c = self.coerce("d8").await;
        aether_deposit(&a).await;
        coerce_deposit(&c).await;
        let me = self;
        for round in 0..b.rounds {
            for side in rotated(&[AETHER, COERCE, RAW_JS, RAW_REDIS], round) {
                let work = callers(CALLERS, |_| {
                    let (a, c, js, conn, event) = (
                        a.clone(),
                        c.clone(),
                        me.js.clone(),
                        me.conn.clone(),
                        me.event.clone(),
                    );
                    let seqs: Vec<i64> = (0..per).map(|_| me.next_seq()).collect();
                    async move {
                        for seq in seqs {
                            match side {
                                AETHER => aether_deposit(&a).await,
                                COERCE => coerce_deposit(&c).await,
                                RAW_JS => publish(&js, "cbraw.d8".into(), &event).await,
                                _ => zadd(&conn, "cbraw:d8", seq).await,
                            }
                        }
                    }
                });
                let (p, ()) = measure(total, &self.servers, work).await;
                t.add(side, "commands/s", p.rate(total));
                t.profile(side, &p);
            }
        }
        t.print();
        b.durable_rows.push(t.summary(
            &format!("one actor, {CALLERS} callers"),
            "commands/s",
            &[RAW_JS, RAW_REDIS],
        ));
    }

    /// 9. Sequential asks: p50 (and p99).
    pub async fn sequential(&self, b: &mut Bench) {
        let n = b.sizes.durable_seq;
        let mut t = Table::new(
            format!("9. sequential ask, one actor, durable ({n} asks per side per round)"),
            &["p50 µs", "p99 µs"],
        );
        t.note(format!(
            "raw JetStream: OCC publish of Aether's stored event JSON ({} B) with Nats-Expected-Last-Subject-Sequence, waiting for the ack; raw Redis: ZADD of coerce-redis's journal entry ({} B) with redis 0.23's multiplexed connection",
            self.event.len(),
            journal_entry(1).len()
        ));
        let a = self.aether("d9");
        let c = self.coerce("d9").await;
        let last = AtomicU64::new(0);
        for _ in 0..n / 10 + 1 {
            aether_deposit(&a).await;
            coerce_deposit(&c).await;
            let l = occ_publish(
                &self.js,
                "cbraw.d9".into(),
                &self.event,
                last.load(Ordering::Relaxed),
            )
            .await;
            last.store(l, Ordering::Relaxed);
            zadd(&self.conn, "cbraw:d9", self.next_seq()).await;
        }
        for round in 0..b.rounds {
            for side in rotated(&[AETHER, COERCE, RAW_JS, RAW_REDIS], round) {
                let (p, mut lat) = match side {
                    AETHER => {
                        let a = &a;
                        measure(n as u64, &self.servers, latencies(n, || aether_deposit(a))).await
                    }
                    COERCE => {
                        let c = &c;
                        measure(n as u64, &self.servers, latencies(n, || coerce_deposit(c))).await
                    }
                    RAW_JS => {
                        let (js, event, last) = (&self.js, &self.event, &last);
                        let work = latencies(n, || async move {
                            let l = occ_publish(
                                js,
                                "cbraw.d9".into(),
                                event,
                                last.load(Ordering::Relaxed),
                            )
                            .await;
                            last.store(l, Ordering::Relaxed);
                        });
                        measure(n as u64, &self.servers, work).await
                    }
                    _ => {
                        let me = self;
                        let work = latencies(n, || async move {
                            zadd(&me.conn, "cbraw:d9", me.next_seq()).await;
                        });
                        measure(n as u64, &self.servers, work).await
                    }
                };
                t.add(side, "p50 µs", quantile(&mut lat, 0.5));
                t.add(side, "p99 µs", quantile(&mut lat, 0.99));
                t.profile(side, &p);
            }
        }
        t.print();
        b.durable_rows
            .push(t.summary("sequential ask p50", "p50 µs", &[RAW_JS, RAW_REDIS]));
        b.durable_rows
            .push(t.summary("sequential ask p99", "p99 µs", &[RAW_JS, RAW_REDIS]));
    }

    /// 10. 1,000 actors (active), 128 callers; CPU per command per process.
    pub async fn many_actors(&self, b: &mut Bench) {
        const CALLERS: usize = 128;
        let (n, passes) = (b.sizes.durable_actors, b.sizes.durable_passes);
        let total = (n * passes) as u64;
        let mut t = Table::new(
            format!(
                "10. {n} actors, {CALLERS} callers, durable, warm ({total} commands per side per round)"
            ),
            &["commands/s"],
        );
        t.note(format!("raw JetStream: OCC publishes over {n} subjects, {CALLERS} in flight, one after another per subject; raw Redis: ZADDs over {n} keys, {CALLERS} in flight, one multiplexed connection"));
        t.note("CPU µs/cmd: this process (getrusage); nats-server's and redis-server's from their threads' /proc/<pid>/task/*/schedstat");
        let a: Arc<Vec<ActorRef<al::Ledger>>> =
            Arc::new((0..n).map(|i| self.aether(&format!("d10-{i}"))).collect());
        let mut c = Vec::with_capacity(n);
        for i in 0..n {
            c.push(self.coerce(&format!("d10-{i}")).await);
        }
        let c = Arc::new(c);
        let last: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
        // Activate every actor and open every subject and key before timing.
        let me = self;
        let (a, c, last) = (&a, &c, &last);
        let all = move |side: &'static str, passes: usize| {
            callers(CALLERS, move |k| {
                let (a, c, last, js, conn, event) = (
                    a.clone(),
                    c.clone(),
                    last.clone(),
                    me.js.clone(),
                    me.conn.clone(),
                    me.event.clone(),
                );
                let seqs: Vec<i64> = (0..passes * n.div_ceil(CALLERS))
                    .map(|_| me.next_seq())
                    .collect();
                async move {
                    let mut seqs = seqs.into_iter();
                    for _ in 0..passes {
                        for i in slice(k, CALLERS, n) {
                            match side {
                                AETHER => aether_deposit(&a[i]).await,
                                COERCE => coerce_deposit(&c[i]).await,
                                RAW_JS => {
                                    let l = occ_publish(
                                        &js,
                                        format!("cbraw.d10.{i}"),
                                        &event,
                                        last[i].load(Ordering::Relaxed),
                                    )
                                    .await;
                                    last[i].store(l, Ordering::Relaxed);
                                }
                                _ => {
                                    let seq = seqs.next().expect("enough sequences");
                                    zadd(&conn, &format!("cbraw:d10:{i}"), seq).await;
                                }
                            }
                        }
                    }
                }
            })
        };
        for side in [AETHER, COERCE, RAW_JS, RAW_REDIS] {
            all(side, 1).await;
        }
        for round in 0..b.rounds {
            for side in rotated(&[AETHER, COERCE, RAW_JS, RAW_REDIS], round) {
                let (p, ()) = measure(total, &self.servers, all(side, passes)).await;
                t.add(side, "commands/s", p.rate(total));
                t.profile(side, &p);
            }
        }
        t.print();
        b.durable_rows.push(t.summary(
            &format!("{n} actors, {CALLERS} callers"),
            "commands/s",
            &[RAW_JS, RAW_REDIS],
        ));
        b.durable_rows.push(t.summary(
            "  the same: CPU per command, this process",
            "CPU µs/cmd",
            &[RAW_JS, RAW_REDIS],
        ));
        b.durable_rows.push(t.summary_of(
            "  the same: CPU per command, the store's server (nats-server; redis-server)",
            "nats-server CPU µs/cmd",
            "redis-server CPU µs/cmd",
            &[
                (RAW_JS, "nats-server CPU µs/cmd"),
                (RAW_REDIS, "redis-server CPU µs/cmd"),
            ],
        ));
    }

    /// 11. Cold start of a 10,000-event actor, no snapshot.
    pub async fn cold_start(&self, b: &mut Bench) {
        const COLD_ROUNDS: usize = 6;
        let events = b.sizes.cold_events;
        let mut t = Table::new(
            format!(
                "11. cold start of a {events}-event actor, no snapshot, durable (a fresh store connection and system per round; first message to answer; {COLD_ROUNDS}× the rounds)"
            ),
            &["load ms"],
        );
        const AREAD: &str = "Aether store read";
        const CREAD: &str = "coerce store read";
        t.note("Aether store read: JetStreamEventStore::read of the same events on a fresh connection (the floor); coerce store read: coerce-redis's read_latest_messages (one ZRANGE) on a fresh provider; profile figures are per load");
        let a = self.aether("d11");
        let c = self.coerce("d11").await;
        for _ in 0..events {
            aether_deposit(&a).await;
            coerce_deposit(&c).await;
        }
        let id = aether_id("d11");
        // A load takes tens of milliseconds and its spread between rounds
        // is wide on a shared machine (0.7–1.5× of the floor within one
        // run): six times the rounds, so that the median means something.
        for round in 0..b.rounds * COLD_ROUNDS {
            for side in rotated(&[AETHER, COERCE, AREAD, CREAD], round) {
                let p = match side {
                    AETHER => {
                        let store = JetStreamEventStore::connect(&self.nats_url, js_config())
                            .await
                            .expect("a fresh store");
                        let system = ActorSystem::builder()
                            .events(store)
                            .register::<al::Ledger>(al::config())
                            .start()
                            .await
                            .expect("a fresh system");
                        let (p, balance) = measure(1, &self.servers, async {
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
                        let (csys, _) = coerce_redis(&self.redis_url).await;
                        let (p, balance) = measure(1, &self.servers, async {
                            coerce_spawn(&csys, "ledger-d11".into())
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
                    AREAD => {
                        let store = JetStreamEventStore::connect(&self.nats_url, js_config())
                            .await
                            .expect("a fresh store");
                        let (p, read) = measure(1, &self.servers, store.read(&id, 1)).await;
                        assert_eq!(read.expect("a read").len(), events);
                        p
                    }
                    _ => {
                        let (csys, persistence) = coerce_redis(&self.redis_url).await;
                        let journal = persistence
                            .provider(TypeId::of::<cl::Ledger>())
                            .journal_storage()
                            .expect("the redis journal");
                        let (p, read) = measure(
                            1,
                            &self.servers,
                            journal.read_latest_messages("ledger-d11", 0),
                        )
                        .await;
                        assert_eq!(read.expect("a read").map_or(0, |m| m.len()), events);
                        csys.shutdown().await;
                        p
                    }
                };
                t.add(side, "load ms", p.secs * 1e3);
                t.profile(side, &p);
            }
        }
        t.print();
        b.durable_rows.push(t.summary(
            &format!("cold start, {events} events, no snapshot"),
            "load ms",
            &[AREAD, CREAD],
        ));
    }

    pub async fn shutdown(self) {
        self.aether.shutdown().await.expect("Aether's shutdown");
        self.csys.shutdown().await;
    }
}
