//! A history recorder and checker for distributed tests of the actor
//! runtime: record every command a test sends (id, actor, when issued, what
//! came back, when, from which node) and, optionally, the shard claims it
//! sees written; read every actor's log afterwards, and [`check`] the
//! history against the logs.
//!
//! The rules (`RUNTIME.md` §6), one [`Violation`] variant each:
//!
//! 1. every command answered `Ok` has its events in the log, ending at the
//!    version the answer gave ([`Violation::OkNotInLog`]);
//! 2. no command id has events at two version ranges: nothing applied twice
//!    ([`Violation::AppliedTwice`]);
//! 3. every actor's versions are gapless from 1 ([`Violation::VersionGap`]);
//! 4. real-time order: if the answer to `c1` came before `c2` was first sent
//!    (both `Ok`, same actor), `c1`'s events come before `c2`'s; a command id
//!    sent several times spans from its first send to its `Ok`
//!    ([`Violation::OutOfOrder`]);
//! 5. claim monotonicity: along an actor's log, the claim revisions its
//!    events were written under (metadata `aether.claim`,
//!    `"<shard>/<revision>"`) never decrease per shard
//!    ([`Violation::ClaimWentBack`]);
//! 6. every claim stamp is well formed ([`Violation::MalformedClaim`]);
//! 7. no `Ok` from a superseded owner: an `Ok` command's events were not
//!    written under a claim the test had already seen superseded by another
//!    node before the command was sent ([`Violation::OkFromSupersededOwner`];
//!    needs the claims recorded with [`History::claim_seen`] and
//!    [`check_with_claims`]);
//! 8. errors say whether the command took effect: a command answered "not
//!    applied" or rejected (and never `Ok` on a retry) has no events
//!    ([`Violation::RefusedButInLog`]).
//!
//! ```
//! use aether_core::{ActorId, Event, Metadata, json};
//! use aether_testkit::history::{History, Outcome, Violation, check};
//!
//! let history = History::new();
//! let actor = ActorId::new("counter-1").unwrap();
//! let op = history.issue("cmd-1", &actor);
//! history.answer(op, Outcome::Ok { version: 1 }, Some("node-a"));
//! let event = Event::new(actor.clone(), 1, "Added", json!(1))
//!     .with_metadata(Metadata::new().with_causation_id("cmd-1"));
//! let logs = [(actor.clone(), vec![event])].into_iter().collect();
//! let report = check(&history.ops(), &logs);
//! assert!(report.is_clean(), "{report}");
//!
//! // The same answer against an empty log: an acknowledged write was lost.
//! let lost = check(&history.ops(), &[(actor, vec![])].into_iter().collect());
//! assert!(matches!(
//!     lost.violations.as_slice(),
//!     [Violation::OkNotInLog { answered: 1, found: None, .. }]
//! ));
//! println!("{lost}"); // one line per violation, naming its rule
//! ```

mod record;
mod report;
mod rules;
mod violation;

pub use record::{ClaimSeen, History, Op, Outcome, Ticket};
pub use report::{Report, check, check_with_claims};
pub use violation::{VersionRange, Violation};

/// The metadata key the runtime stamps the writer's claim on
/// (`"<shard>/<claim revision>"`).
pub const CLAIM_KEY: &str = aether_core::Metadata::KEY_WRITER_CLAIM;

#[cfg(test)]
mod tests;
