//! One clean history that passes every rule, and for each rule a variant of
//! it that breaks exactly that rule.

use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, Metadata, json};

use super::rules::{self, Facts, Logs};
use super::*;

/// A history and the logs it is checked against.
struct Case {
    t0: Instant,
    ops: Vec<Op>,
    claims: Vec<ClaimSeen>,
    logs: Logs,
}

fn a() -> ActorId {
    ActorId::new("counter-a").unwrap()
}

fn b() -> ActorId {
    ActorId::new("counter-b").unwrap()
}

/// An event of `actor` at `v`, caused by `cause`, stamped with `claim` by
/// `writer`.
fn ev(actor: &ActorId, v: u64, cause: &str, claim: &str, writer: &str) -> Event {
    let m = Metadata::new()
        .with_causation_id(cause)
        .with_writer_claim(claim)
        .with_writer_node(writer);
    Event::new(actor.clone(), v, "Added", json!(v)).with_metadata(m)
}

impl Case {
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Records a send of `id` to `actor` at `issued` ms, answered at
    /// `answered` ms.
    fn send(&mut self, id: &str, actor: &ActorId, issued: u64, answered: u64, outcome: Outcome) {
        let node = matches!(outcome, Outcome::Ok { .. }).then(|| "n1".to_owned());
        self.ops.push(Op {
            command_id: id.to_owned(),
            actor: actor.clone(),
            issued: self.at(issued),
            answered: Some(self.at(answered)),
            outcome,
            node,
        });
    }

    fn claim(&mut self, shard: u32, revision: u64, owner: &str, seen: u64) {
        self.claims.push(ClaimSeen {
            shard,
            revision,
            owner: owner.to_owned(),
            seen: self.at(seen),
        });
    }

    fn answer_of(&mut self, id: &str, outcome: Outcome) {
        for op in self.ops.iter_mut().filter(|op| op.command_id == id) {
            if op.outcome.rank() >= 2 {
                op.outcome = outcome.clone();
            }
        }
    }

    fn log(&mut self, actor: &ActorId) -> &mut Vec<Event> {
        self.logs.get_mut(actor).unwrap()
    }

    fn check(&self) -> Report {
        check_with_claims(&self.ops, &self.claims, &self.logs)
    }

    /// Asserts that the history breaks `rule` only, exactly as `expected`
    /// says (through `check` and through the rule's own function).
    fn breaks_only(&self, rule: fn(&Facts<'_>) -> Vec<Violation>, expected: &[Violation]) {
        let report = self.check();
        assert_eq!(report.violations, expected, "{report}");
        let facts = Facts::new(&self.ops, &self.claims, &self.logs);
        assert_eq!(rule(&facts), expected);
        let rules_broken = rules::RULES
            .iter()
            .filter(|r| !r(&facts).is_empty())
            .count();
        assert_eq!(rules_broken, 1, "exactly one rule broken: {report}");
    }
}

/// Two actors; a retry that finds its first send's events; a command
/// answered "not applied", one rejected, one that decided no events; claims
/// stamped, re-taken by the same node, and superseded only after the last
/// command.
fn clean() -> Case {
    let (a, b) = (a(), b());
    let mut c = Case {
        t0: Instant::now(),
        ops: Vec::new(),
        claims: Vec::new(),
        logs: Logs::new(),
    };
    c.send("c1", &a, 0, 10, Outcome::Ok { version: 1 });
    c.send("c2", &a, 20, 30, Outcome::Ok { version: 2 });
    c.send("c3", &a, 40, 45, Outcome::Unknown);
    c.send("c3", &a, 60, 70, Outcome::Ok { version: 3 });
    c.send("c4", &a, 80, 85, Outcome::NotApplied);
    c.send("c5", &a, 90, 95, Outcome::Rejected);
    c.send("c6", &a, 100, 110, Outcome::Ok { version: 3 });
    c.send("d1", &b, 5, 15, Outcome::Ok { version: 2 });
    c.claim(7, 10, "n1", 0);
    c.claim(9, 20, "n1", 0);
    c.claim(7, 12, "n1", 50);
    c.claim(9, 25, "n3", 200);
    c.logs.insert(
        a.clone(),
        vec![
            ev(&a, 1, "c1", "7/10", "n1"),
            ev(&a, 2, "c2", "7/10", "n1"),
            ev(&a, 3, "c3", "7/12", "n1"),
        ],
    );
    c.logs.insert(
        b.clone(),
        vec![ev(&b, 1, "d1", "9/20", "n1"), ev(&b, 2, "d1", "9/20", "n1")],
    );
    c
}

#[test]
fn a_clean_history_passes_every_rule() {
    let c = clean();
    let report = c.check();
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        (
            report.sends,
            report.ok,
            report.unknown,
            report.not_applied,
            report.events
        ),
        (8, 5, 0, 1, 5)
    );
    let facts = Facts::new(&c.ops, &c.claims, &c.logs);
    for rule in rules::RULES {
        assert_eq!(rule(&facts), []);
    }
}

#[test]
fn rule_1_an_ok_must_be_in_the_log_at_its_version() {
    let mut c = clean();
    // c2 says version 3, its event is at 2.
    c.answer_of("c2", Outcome::Ok { version: 3 });
    // d2 says version 3 on b, whose log ends at 2, and has no events: lost.
    c.send("d2", &b(), 300, 310, Outcome::Ok { version: 3 });
    c.breaks_only(
        rules::ok_in_log,
        &[
            Violation::OkNotInLog {
                actor: a(),
                command_id: "c2".into(),
                answered: 3,
                found: Some(VersionRange { first: 2, last: 2 }),
                log_len: 3,
            },
            Violation::OkNotInLog {
                actor: b(),
                command_id: "d2".into(),
                answered: 3,
                found: None,
                log_len: 2,
            },
        ],
    );
}

#[test]
fn rule_2_a_command_is_applied_once() {
    let mut c = clean();
    let a = a();
    c.log(&a).push(ev(&a, 4, "c1", "7/12", "n1"));
    c.breaks_only(
        rules::applied_once,
        &[Violation::AppliedTwice {
            actor: a,
            command_id: "c1".into(),
            ranges: vec![
                VersionRange { first: 1, last: 1 },
                VersionRange { first: 4, last: 4 },
            ],
        }],
    );
}

#[test]
fn rule_3_versions_are_gapless() {
    let mut c = clean();
    let a = a();
    c.log(&a)[2] = ev(&a, 4, "c3", "7/12", "n1");
    c.answer_of("c3", Outcome::Ok { version: 4 });
    c.breaks_only(
        rules::versions_gapless,
        &[Violation::VersionGap {
            actor: a,
            expected: 3,
            found: 4,
        }],
    );
}

#[test]
fn rule_4_real_time_order_holds() {
    let mut c = clean();
    let a = a();
    // c1 was answered (10 ms) before c2 was sent (20 ms), yet c2 is first.
    c.log(&a)[0] = ev(&a, 1, "c2", "7/10", "n1");
    c.log(&a)[1] = ev(&a, 2, "c1", "7/10", "n1");
    c.answer_of("c1", Outcome::Ok { version: 2 });
    c.answer_of("c2", Outcome::Ok { version: 1 });
    c.breaks_only(
        rules::real_time_order,
        &[Violation::OutOfOrder {
            actor: a,
            earlier: "c1".into(),
            earlier_at: 2,
            later: "c2".into(),
            later_at: 1,
        }],
    );
}

#[test]
fn rule_5_claim_revisions_never_go_back_along_a_log() {
    let mut c = clean();
    let a = a();
    c.log(&a)[2] = ev(&a, 3, "c3", "7/9", "n1");
    c.breaks_only(
        rules::claims_monotonic,
        &[Violation::ClaimWentBack {
            actor: a,
            shard: "7".into(),
            from: 10,
            from_version: 2,
            to: 9,
            at_version: 3,
        }],
    );
}

#[test]
fn rule_6_claim_stamps_are_well_formed() {
    let mut c = clean();
    let a = a();
    c.log(&a)[2] = ev(&a, 3, "c3", "7-12", "n1");
    c.breaks_only(
        rules::claims_well_formed,
        &[Violation::MalformedClaim {
            actor: a,
            version: 3,
            claim: "7-12".into(),
        }],
    );
}

#[test]
fn rule_7_no_ok_from_a_superseded_owner() {
    let mut c = clean();
    // n2 took shard 7 at revision 11 (seen at 15 ms); c2, sent at 20 ms,
    // was still written by n1 under revision 10.
    c.claim(7, 11, "n2", 15);
    c.breaks_only(
        rules::no_ok_from_superseded_owner,
        &[Violation::OkFromSupersededOwner {
            actor: a(),
            command_id: "c2".into(),
            writer: "n1".into(),
            shard: 7,
            revision: 10,
            superseded_by: 11,
            new_owner: "n2".into(),
        }],
    );
}

#[test]
fn rule_7_needs_the_supersession_seen_before_the_first_send() {
    let mut c = clean();
    // Seen after c2 was sent: the reply may have been sent before.
    c.claim(7, 11, "n2", 25);
    assert!(c.check().is_clean());
    // Without claim observations the rule checks nothing.
    c.claims.clear();
    c.claim(7, 11, "n2", 15);
    let report = check(&c.ops, &c.logs);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn rule_8_a_refused_command_has_no_events() {
    let mut c = clean();
    let a = a();
    c.log(&a).push(ev(&a, 4, "c4", "7/12", "n1"));
    c.log(&a).push(ev(&a, 5, "c5", "7/12", "n1"));
    c.breaks_only(
        rules::refused_not_in_log,
        &[
            Violation::RefusedButInLog {
                actor: a.clone(),
                command_id: "c4".into(),
                outcome: Outcome::NotApplied,
                found: VersionRange { first: 4, last: 4 },
            },
            Violation::RefusedButInLog {
                actor: a,
                command_id: "c5".into(),
                outcome: Outcome::Rejected,
                found: VersionRange { first: 5, last: 5 },
            },
        ],
    );
}

#[test]
fn a_retry_that_finds_its_first_sends_events_keeps_the_first_send_time() {
    let a = a();
    let mut c = Case {
        t0: Instant::now(),
        ops: Vec::new(),
        claims: Vec::new(),
        logs: Logs::new(),
    };
    c.send("c1", &a, 0, 5, Outcome::Unknown); // written, but the answer was lost
    c.send("c2", &a, 10, 15, Outcome::Ok { version: 2 });
    c.send("c1", &a, 20, 25, Outcome::Ok { version: 1 }); // the retry finds version 1
    c.logs.insert(
        a.clone(),
        vec![ev(&a, 1, "c1", "1/1", "n1"), ev(&a, 2, "c2", "1/1", "n1")],
    );
    let r = c.check();
    assert!(r.is_clean(), "{r}");
    assert_eq!((r.sends, r.ok, r.unknown), (3, 2, 0));
}

#[test]
fn the_report_lists_violations_by_rule_in_words() {
    let mut c = clean();
    let a = a();
    c.log(&a).push(ev(&a, 4, "c1", "7/12", "n1"));
    c.log(&a).push(ev(&a, 6, "c4", "7/12", "n1"));
    let text = c.check().to_string();
    assert_eq!(
        text,
        "8 sends, 5 ok, 0 unknown, 1 not applied, 7 events; 3 violation(s)\
         \n  applied twice: 1\
         \n    - [applied twice] counter-a: command c1 has events at versions 1 and 4 \
         (applied more than once)\
         \n  refused but in the log: 1\
         \n    - [refused but in the log] counter-a: command c4 was answered \"not applied\" \
         but its events are at 6\
         \n  versions not gapless: 1\
         \n    - [versions not gapless] counter-a: version 6 where 5 was due (a gap or a \
         duplicate)"
    );
}
