//! `aether model check|test|publish|list|show|diff`: model files checked
//! and tested without a server (every problem with its path, failing
//! examples), then published to a real nats-server's registry (the publish
//! rules, nothing written on a refusal, `--breaking`, `--dry-run`,
//! `--replay-check` over real histories, `--force`), listed, shown and
//! diffed; bad input is one line on stderr with a meaningful exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aether_core::{ActorId, Event, EventStore, Metadata, json};
use aether_model::{CommandDef, EventDef, Model, NamedMap};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use serde_json::Value;

const ACCOUNT: &str = include_str!("../../aether-model/models/account.yaml");

fn aether(url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aether"));
    for (k, _) in std::env::vars() {
        if k.starts_with("NATS_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--server").arg(url).args(args);
    cmd.output().expect("run aether")
}

fn ok_text(url: &str, args: &[&str]) -> String {
    let out = aether(url, args);
    assert!(
        out.status.success(),
        "aether {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ok_json(url: &str, args: &[&str]) -> Value {
    let text = ok_text(url, &[args, &["--json"]].concat());
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("aether {args:?} printed no JSON ({e}): {text}"))
}

/// A failing command: its exit code, what it printed (the details), and
/// its single line on stderr.
fn fails(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = aether(url, args);
    assert!(!out.status.success(), "aether {args:?} should fail");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr:?}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        stderr,
    )
}

/// A directory of model files, removed at the end.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path: PathBuf = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// `model` as canonical JSON in `name` (a `.json` file).
    fn model(&self, name: &str, model: &Model) -> String {
        self.write(name, &model.to_json_pretty())
    }

    fn path(&self, name: &str) -> String {
        Path::new(self.0.path())
            .join(name)
            .to_str()
            .unwrap()
            .to_owned()
    }
}

fn v3() -> Model {
    Model::from_yaml(ACCOUNT).unwrap()
}

/// v3 plus a command `Note` emitting `Noted` (folded as nothing): a
/// compatible change that moves the state fingerprint.
fn v4() -> Model {
    let mut m = v3();
    m.version = 4;
    m.commands.insert(
        "Note",
        serde_json::from_value::<CommandDef>(json!({
            "schema": {"type": "object", "required": ["text"], "additionalProperties": false,
                       "properties": {"text": {"type": "string", "maxLength": 100}}},
            "guards": [{"when": "state.status == 'open'", "reject": "not_open"}],
            "emit": [{"event": "Noted", "data": "{'text': command.text}"}]
        }))
        .unwrap(),
    );
    m.events.insert(
        "Noted",
        serde_json::from_value::<EventDef>(json!({"evolve": {}})).unwrap(),
    );
    m
}

/// v4 as version 5 without the command `Close`: a breaking change.
fn v5_without_close() -> Model {
    let mut m = v4();
    m.version = 5;
    m.commands = m
        .commands
        .iter()
        .filter(|(n, _)| *n != "Close")
        .map(|(n, c)| (n.to_owned(), c.clone()))
        .collect::<NamedMap<_>>();
    m
}

#[test]
fn check_and_test_need_no_server_and_name_every_problem_with_its_path() {
    let files = Files::new();
    // No server at this address: `check` and `test` never connect.
    let url = "nats://127.0.0.1:1";
    let good = files.write("account.yaml", ACCOUNT);

    let text = ok_text(url, &["model", "check", &good]);
    assert!(
        text.starts_with(
            "ok: account@3: 4 commands, 5 events, 1 queries, 2 examples; state fingerprint "
        ),
        "{text}"
    );
    let checked = ok_json(url, &["model", "check", &good]);
    assert_eq!(checked["ok"], true);
    assert_eq!(checked["model"], "account");
    assert_eq!(checked["version"], 3);
    assert_eq!(
        checked["commands"],
        json!(["Open", "Deposit", "Withdraw", "Close"])
    );
    assert_eq!(checked["queries"], json!(["Balance"]));
    assert_eq!(
        checked["fingerprint"].as_str().unwrap(),
        aether_model::check(&v3()).unwrap().state_fingerprint()
    );
    // The same model as canonical JSON checks the same.
    let as_json = files.model("account.json", &v3());
    assert_eq!(
        ok_json(url, &["model", "check", &as_json])["fingerprint"],
        checked["fingerprint"]
    );

    // Two mistakes: each printed with its JSON path, one line on stderr, exit 2.
    let bad = files.write(
        "bad.yaml",
        &ACCOUNT
            .replace(
                "state.balance - command.amount >= -state.overdraft",
                "state.balanse - command.amount >= -state.overdraft",
            )
            .replace(
                "{'amount': command.amount}\" } ]",
                "{'amount': command.amont}\" } ]",
            ),
    );
    let (code, printed, stderr) = fails(url, &["model", "check", &bad]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("bad.yaml: 2 problems"), "{stderr}");
    assert!(
        printed.contains("commands.Withdraw.guards[1].when: 1:1: `state` has no field `balanse`; did you mean `balance`?"),
        "{printed}"
    );
    assert!(
        printed.contains("commands.Deposit.emit[0].data"),
        "{printed}"
    );
    let out = aether(url, &["model", "check", &bad, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let problems: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(problems["ok"], false);
    let paths: Vec<&str> = problems["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"commands.Withdraw.guards[1].when"),
        "{paths:?}"
    );

    // Not a model: the parse error with its line and column.
    let broken = files.write("broken.yaml", "model: account\nversion: [\n");
    let (code, printed, _) = fails(url, &["model", "check", &broken]);
    assert_eq!(code, 2);
    assert!(printed.contains("2:10"), "{printed}");
    // No file.
    let (code, _, stderr) = fails(url, &["model", "check", &files.path("nope.yaml")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");

    // Examples: all pass; then one wrong on purpose fails with exit 1.
    assert_eq!(
        ok_text(url, &["model", "test", &good]).trim_end(),
        "ok: account@3: 2 examples pass"
    );
    let failing = files.write(
        "failing.yaml",
        &ACCOUNT.replace(
            "then: { rejected: insufficient_funds }",
            "then: { rejected: not_open }",
        ),
    );
    let (code, printed, stderr) = fails(url, &["model", "test", &failing]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("1 of 2 examples fail"), "{stderr}");
    assert!(printed.starts_with("FAIL "), "{printed}");
    assert!(printed.contains("insufficient_funds"), "{printed}");
    let out = aether(url, &["model", "test", &failing, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["examples"], 2);
    assert_eq!(report["failures"].as_array().unwrap().len(), 1);
    // A model that does not check is not tested: its problems, exit 2.
    assert_eq!(fails(url, &["model", "test", &bad]).0, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_list_show_and_diff_follow_the_publish_rules_on_a_real_registry() {
    let server = NatsServer::start().await;
    let url = server.url();
    let files = Files::new();

    // Nothing published yet: an empty list; show and diff are not found.
    assert_eq!(ok_json(&url, &["model", "list"]), json!([]));
    assert!(ok_text(&url, &["model", "list"]).starts_with("MODEL"));
    assert_eq!(fails(&url, &["model", "show", "account"]).0, 3);
    assert_eq!(fails(&url, &["model", "diff", "account", "3", "4"]).0, 3);

    // The first publish takes the file's version.
    let v3_file = files.write("account.yaml", ACCOUNT);
    let text = ok_text(&url, &["model", "publish", &v3_file]);
    assert!(text.starts_with("published account@3 (sha256 "), "{text}");
    // The very same document again writes nothing.
    let again = ok_json(&url, &["model", "publish", &v3_file]);
    assert_eq!(again["unchanged"], true);
    assert_eq!(again["version"], 3);

    // A compatible v4 (as JSON): published, with the fingerprint warning.
    let v4_file = files.model("account-v4.json", &v4());
    let text = ok_text(&url, &["model", "publish", &v4_file]);
    assert!(text.starts_with("published account@4"), "{text}");
    assert!(
        text.contains("warning: the state fingerprint changes"),
        "{text}"
    );

    // A version that skips one: refused, exit 2, nothing written.
    let mut v6 = v4();
    v6.version = 6;
    let v6_file = files.model("account-v6.json", &v6);
    let (code, _, stderr) = fails(&url, &["model", "publish", &v6_file]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("the next publish must be version 5, not 6"),
        "{stderr}"
    );

    // A model that does not check: its problems, exit 2.
    let bad = files.write(
        "bad.yaml",
        &ACCOUNT
            .replace("version: 3 ", "version: 5 ")
            .replace("event.owner", "event.ownr"),
    );
    let (code, printed, _) = fails(&url, &["model", "publish", &bad]);
    assert_eq!(code, 2);
    assert!(printed.contains("events.Opened.evolve.owner"), "{printed}");

    // Removing a command is breaking: refused (with what breaks, and the
    // flag to pass), exit 2; --dry-run --breaking writes nothing.
    let v5_file = files.model("account-v5.json", &v5_without_close());
    let (code, printed, stderr) = fails(&url, &["model", "publish", &v5_file]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("breaking changes (publish with --breaking"),
        "{stderr}"
    );
    assert!(printed.contains("Close"), "{printed}");
    let dry = ok_text(
        &url,
        &["model", "publish", &v5_file, "--breaking", "--dry-run"],
    );
    assert!(
        dry.starts_with("ok: account@5 may be published (nothing written)"),
        "{dry}"
    );
    assert!(dry.contains("warning: breaking:"), "{dry}");
    let listed = ok_json(&url, &["model", "list"]);
    assert_eq!(listed[0]["version"], 4, "nothing written: {listed}");

    let done = ok_json(&url, &["model", "publish", &v5_file, "--breaking"]);
    assert_eq!(
        (done["version"].as_u64(), done["unchanged"].as_bool()),
        (Some(5), Some(false))
    );
    assert!(
        done["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("breaking:")),
        "{done}"
    );

    // list: the pointer.
    let listed = ok_json(&url, &["model", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "account");
    assert_eq!(listed[0]["version"], 5);
    assert_eq!(listed[0]["sha256"], done["sha256"]);
    let table = ok_text(&url, &["model", "list"]);
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("account  5 "), "{table}");

    // show: the current version, or an older one; the canonical JSON.
    let shown = ok_json(&url, &["model", "show", "account"]);
    assert_eq!(
        (shown["version"].as_u64(), shown["current"].as_bool()),
        (Some(5), Some(true))
    );
    assert_eq!(shown["sha256"], done["sha256"]);
    let old = ok_text(&url, &["model", "show", "account", "3"]);
    assert_eq!(Model::from_json(&old).unwrap(), v3());
    let old = ok_json(&url, &["model", "show", "account", "3"]);
    assert_eq!(old["current"], false);
    let (code, _, stderr) = fails(&url, &["model", "show", "account", "9"]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(fails(&url, &["model", "show", "loan"]).0, 3);

    // diff: what changed between two published versions.
    let text = ok_text(&url, &["model", "diff", "account", "3", "4"]);
    assert!(text.contains("Note") && text.contains("Noted"), "{text}");
    assert!(!text.contains("breaking:"), "{text}");
    let text = ok_text(&url, &["model", "diff", "account", "4", "5"]);
    assert!(
        text.contains("breaking:") && text.contains("Close"),
        "{text}"
    );
    let diff = ok_json(&url, &["model", "diff", "account", "4", "5"]);
    assert!(!diff["breaking"].as_array().unwrap().is_empty(), "{diff}");
    assert_eq!(fails(&url, &["model", "diff", "account", "4", "8"]).0, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_replay_check_folds_real_histories_first_and_force_overrides_a_divergence() {
    let server = NatsServer::start().await;
    let url = server.url();
    let files = Files::new();
    let store = JetStreamEventStore::connect(
        &url,
        JetStreamConfig {
            namespace: "bank".into(),
            ..JetStreamConfig::default()
        },
    )
    .await
    .unwrap();
    let stamp = || Metadata::new().with_model("account@3");
    for (i, key) in ["ann", "bob", "cy"].iter().enumerate() {
        let id = ActorId::new(format!("account-{key}")).unwrap();
        store
            .append(
                Event::new(
                    id.clone(),
                    1,
                    "Opened",
                    json!({"owner": key, "overdraft": 0}),
                )
                .with_metadata(stamp()),
            )
            .await
            .unwrap();
        store
            .append(
                Event::new(id, 2, "Deposited", json!({"amount": 10 + i})).with_metadata(stamp()),
            )
            .await
            .unwrap();
    }
    let v3_file = files.write("account.yaml", ACCOUNT);
    ok_text(&url, &["model", "publish", &v3_file]);

    // v4 folds every history of the namespace's accounts.
    let v4_file = files.model("account-v4.json", &v4());
    let text = ok_text(
        &url,
        &[
            "-n",
            "bank",
            "model",
            "publish",
            &v4_file,
            "--replay-check",
            "10",
        ],
    );
    assert!(
        text.starts_with("replayed 3 actors (6 events): all fold\npublished account@4"),
        "{text}"
    );

    // A v5 whose fold of `Deposited` faults on bob's real data (amount 11
    // overflows): refused (exit 1) naming the actor and event; nothing
    // written; --force publishes it anyway, with a warning.
    let mut bad = v4();
    bad.version = 5;
    bad.events.get_mut("Deposited").unwrap().evolve = Some(
        [(
            "balance".to_owned(),
            "state.balance + event.amount * (event.amount == 11 ? 9223372036854775807 : 1)"
                .to_owned(),
        )]
        .into_iter()
        .collect(),
    );
    let bad_file = files.model("account-v5.json", &bad);
    let args = [
        "-n",
        "bank",
        "model",
        "publish",
        &bad_file,
        "--replay-check",
        "10",
    ];
    let (code, printed, stderr) = fails(&url, &args);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "the replay check failed: actor account-bob cannot be replayed: event 2 (Deposited)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(printed.contains("account-bob"), "{printed}");
    assert_eq!(ok_json(&url, &["model", "list"])[0]["version"], 4);
    let forced = ok_json(&url, &[&args[..], &["--force"]].concat());
    assert_eq!(forced["version"], 5);
    assert_eq!(forced["replay"]["failure"]["actor"], "account-bob");
    assert!(
        forced["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("forced past")),
        "{forced}"
    );

    // A namespace without an event stream has no history to fold.
    let mut v6 = v4();
    v6.version = 6;
    let v6_file = files.model("account-v6.json", &v6);
    let text = ok_text(
        &url,
        &[
            "-n",
            "empty",
            "model",
            "publish",
            &v6_file,
            "--replay-check",
            "10",
        ],
    );
    assert!(
        text.starts_with("replayed 0 actors (0 events): all fold"),
        "{text}"
    );
}

#[test]
fn registry_commands_against_an_unreachable_server_exit_4() {
    let files = Files::new();
    let file = files.write("account.yaml", ACCOUNT);
    for args in [
        vec!["model", "list"],
        vec!["model", "show", "account"],
        vec!["model", "publish", file.as_str()],
    ] {
        let (code, _, stderr) = fails(
            "nats://127.0.0.1:1",
            &[&["--timeout", "1"], &args[..]].concat(),
        );
        assert_eq!(code, 4, "{args:?}: {stderr}");
    }
}
