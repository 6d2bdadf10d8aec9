//! The ledger actor, once per side: a `Deposit { amount }` command persists
//! one `Deposited { amount }` event (JSON `{"amount":N}` on both sides)
//! before the answer; the state is the balance; a `Balance` query reads it.

/// Aether's ledger: an [`Aggregate`] run by the runtime.
pub mod aether {
    use aether_cluster::runtime::{ActorConfig, Passivation};
    use aether_core::aggregate::{Aggregate, DomainEvent, Queryable, SnapshotPolicy};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Default, Clone, Serialize, Deserialize)]
    pub struct Ledger {
        pub balance: u64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub enum LedgerEvent {
        Deposited { amount: u64 },
    }

    impl DomainEvent for LedgerEvent {
        fn event_type(&self) -> &'static str {
            "Deposited"
        }
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Deposit {
        pub amount: u64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
    #[error("a deposit of zero")]
    pub struct ZeroDeposit;

    #[derive(Debug, Clone, Copy, Serialize, Deserialize)]
    pub struct Balance;

    impl Aggregate for Ledger {
        const TYPE: &'static str = "ledger";
        type Command = Deposit;
        type Event = LedgerEvent;
        type Error = ZeroDeposit;

        fn handle(&self, c: &Deposit) -> Result<Vec<LedgerEvent>, ZeroDeposit> {
            match c.amount {
                0 => Err(ZeroDeposit),
                amount => Ok(vec![LedgerEvent::Deposited { amount }]),
            }
        }

        fn apply(&mut self, LedgerEvent::Deposited { amount }: &LedgerEvent) {
            self.balance += amount;
        }

        fn snapshot_policy() -> SnapshotPolicy {
            SnapshotPolicy::Never
        }
    }

    impl Queryable for Ledger {
        type Query = Balance;
        type Answer = u64;

        fn query(&self, _: &Balance) -> u64 {
            self.balance
        }
    }

    /// The defaults (dedupe window 256, deadline 5 s, group commit up to 256
    /// commands, mailbox 1,024), without a snapshot on passivation.
    pub fn config() -> ActorConfig {
        ActorConfig {
            passivation: Passivation {
                snapshot_after: 0,
                ..Passivation::default()
            },
            ..ActorConfig::default()
        }
    }
}

/// coerce's ledger: a `PersistentActor` whose handler persists the event
/// with `persist` (one journal write) and then applies it.
pub mod coerce {
    use coerce::actor::context::ActorContext;
    use coerce::actor::message::{Handler, Message, MessageUnwrapErr, MessageWrapErr};
    use coerce::persistent::journal::types::JournalTypes;
    use coerce::persistent::{PersistentActor, Recover};
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Serialize};

    /// The handler name both nodes register for remote `Deposit`s.
    pub const DEPOSIT_HANDLER: &str = "Ledger.Deposit";
    /// The journal's name of the event.
    pub const DEPOSITED: &str = "Deposited";

    #[derive(Default)]
    pub struct Ledger {
        pub balance: u64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Deposit {
        pub amount: u64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Deposited {
        pub amount: u64,
    }

    #[derive(Debug, Clone, Copy, Serialize, Deserialize)]
    pub struct Balance;

    fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, MessageWrapErr> {
        serde_json::to_vec(v).map_err(|_| MessageWrapErr::SerializationErr)
    }

    fn from_json<T: DeserializeOwned>(b: &[u8]) -> Result<T, MessageUnwrapErr> {
        serde_json::from_slice(b).map_err(|_| MessageUnwrapErr::DeserializationErr)
    }

    impl Message for Deposit {
        /// The new balance, or why the deposit was refused or not stored.
        type Result = Result<u64, String>;

        fn as_bytes(&self) -> Result<Vec<u8>, MessageWrapErr> {
            to_json(self)
        }

        fn from_bytes(b: Vec<u8>) -> Result<Self, MessageUnwrapErr> {
            from_json(&b)
        }

        fn read_remote_result(b: Vec<u8>) -> Result<Self::Result, MessageUnwrapErr> {
            from_json(&b)
        }

        fn write_remote_result(r: Self::Result) -> Result<Vec<u8>, MessageWrapErr> {
            to_json(&r)
        }
    }

    impl Message for Deposited {
        type Result = ();

        fn as_bytes(&self) -> Result<Vec<u8>, MessageWrapErr> {
            to_json(self)
        }

        fn from_bytes(b: Vec<u8>) -> Result<Self, MessageUnwrapErr> {
            from_json(&b)
        }
    }

    impl Message for Balance {
        type Result = u64;
    }

    impl PersistentActor for Ledger {
        fn configure(types: &mut JournalTypes<Self>) {
            types.message::<Deposited>(DEPOSITED);
        }
    }

    #[async_trait::async_trait]
    impl Recover<Deposited> for Ledger {
        async fn recover(&mut self, e: Deposited, _ctx: &mut ActorContext) {
            self.balance += e.amount;
        }
    }

    #[async_trait::async_trait]
    impl Handler<Deposit> for Ledger {
        async fn handle(&mut self, c: Deposit, ctx: &mut ActorContext) -> Result<u64, String> {
            if c.amount == 0 {
                return Err("a deposit of zero".into());
            }
            let event = Deposited { amount: c.amount };
            self.persist(&event, ctx).await.map_err(|e| e.to_string())?;
            self.balance += event.amount;
            Ok(self.balance)
        }
    }

    #[async_trait::async_trait]
    impl Handler<Balance> for Ledger {
        async fn handle(&mut self, _: Balance, _ctx: &mut ActorContext) -> u64 {
            self.balance
        }
    }
}

/// The floor: a tokio task owning a `Vec` of encoded events, fed by a
/// bounded `mpsc` channel, answering through a `oneshot`. Per command it
/// encodes the event to JSON (`serde_json::to_vec`, the same bytes coerce
/// journals), pushes it and replies with the balance: a mailbox, one
/// encode, one append, one reply, nothing else.
pub mod raw {
    use tokio::sync::{mpsc, oneshot};

    use super::coerce::Deposited;

    type Call = (u64, oneshot::Sender<u64>);

    #[derive(Clone)]
    pub struct RawLedger {
        tx: mpsc::Sender<Call>,
    }

    impl RawLedger {
        pub fn spawn() -> Self {
            let (tx, mut rx) = mpsc::channel::<Call>(1024);
            tokio::spawn(async move {
                let (mut log, mut balance) = (Vec::<Vec<u8>>::new(), 0u64);
                while let Some((amount, reply)) = rx.recv().await {
                    log.push(serde_json::to_vec(&Deposited { amount }).expect("encodes"));
                    balance += amount;
                    let _ = reply.send(balance);
                }
                std::hint::black_box(log);
            });
            Self { tx }
        }

        pub async fn deposit(&self, amount: u64) -> u64 {
            let (tx, rx) = oneshot::channel();
            self.tx
                .send((amount, tx))
                .await
                .expect("the raw ledger runs");
            rx.await.expect("the raw ledger answers")
        }
    }
}
