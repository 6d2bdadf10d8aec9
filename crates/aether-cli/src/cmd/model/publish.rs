//! `aether model publish`: the publish rules, then the registry's
//! compare-and-set writes; `--replay-check` first folds real histories.

use std::time::Duration;

use aether_model::deploy::{
    ModelRegistry, PublishError, PublishOptions, ReplayReport, actors_of_type, replay_check,
};
use aether_model::{Deployed, Model};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use serde_json::json;

use super::file::{problems, read};
use super::registry::config;
use crate::args::{Global, PublishArgs};
use crate::error::{CliError, FAILED, USAGE};
use crate::output::Output;

pub(super) async fn publish(
    g: &Global,
    out: &Output,
    bucket: &str,
    p: PublishArgs,
) -> Result<(), CliError> {
    let model = read(out, &p.file)?;
    let client = crate::conn::client(g).await?;
    let registry = ModelRegistry::open(client.clone(), config(g, bucket, p.replicas)).await?;
    let mut options = PublishOptions {
        breaking: p.breaking,
        force: p.force,
        replay: None,
    };
    if let Some(n) = p.replay_check {
        let report = replay(g, out, client, &p.file, &model, n).await?;
        if !out.json {
            out.line(&report.to_string());
        }
        options.replay = Some(report);
    }
    let (name, version) = (model.model.as_str(), model.version);
    if p.dry_run {
        let review = registry
            .check_publish(&model, &options)
            .await
            .map_err(|e| refused(out, &p.file, e))?;
        if out.json {
            out.json(
                &json!({
                    "model": name, "version": version, "dry_run": true,
                    "diff": review.diff, "warnings": review.warnings,
                    "replay": options.replay,
                }),
                false,
            );
        } else {
            out.line(&format!(
                "ok: {name}@{version} may be published (nothing written)"
            ));
            print_review(out, review.diff.as_ref(), &review.warnings);
        }
        return Ok(());
    }
    let replay_report = options.replay.clone();
    let done = registry
        .publish(&model, options)
        .await
        .map_err(|e| refused(out, &p.file, e))?;
    if out.json {
        out.json(
            &json!({
                "model": done.name, "version": done.version, "sha256": done.sha256,
                "fingerprint": done.fingerprint, "revision": done.revision,
                "unchanged": done.unchanged, "diff": done.diff, "warnings": done.warnings,
                "replay": replay_report,
            }),
            false,
        );
    } else if done.unchanged {
        out.line(&format!(
            "{}@{} is already published (this very document): nothing written",
            done.name, done.version
        ));
    } else {
        out.line(&format!(
            "published {}@{} (sha256 {}, revision {})",
            done.name, done.version, done.sha256, done.revision
        ));
        print_review(out, done.diff.as_ref(), &done.warnings);
    }
    Ok(())
}

fn print_review(out: &Output, diff: Option<&aether_model::deploy::ModelDiff>, warnings: &[String]) {
    if let Some(d) = diff {
        for line in d.to_string().lines() {
            out.line(line);
        }
    }
    for w in warnings {
        out.line(&format!("warning: {w}"));
    }
}

/// The replay check of `--replay-check N`: up to `n` actors of the type
/// from the event store of `--namespace` and `--stream-name`.
async fn replay(
    g: &Global,
    out: &Output,
    client: async_nats::Client,
    file: &str,
    model: &Model,
    n: usize,
) -> Result<ReplayReport, CliError> {
    let compiled = aether_model::check(model).map_err(|errors| problems(out, file, &errors))?;
    let store_config = JetStreamConfig {
        stream_name: g.stream_name.clone(),
        namespace: g.namespace.clone(),
        request_timeout: Duration::try_from_secs_f64(g.timeout).unwrap_or(Duration::from_secs(5)),
        ..Default::default()
    };
    let store = match JetStreamEventStore::open_existing(client, store_config).await {
        Ok(s) => s,
        // No event stream: no history to fold.
        Err(aether_core::Error::Missing { .. }) => return Ok(ReplayReport::default()),
        Err(e) => return Err(e.into()),
    };
    let actors = actors_of_type(&store, compiled.name(), n).await?;
    Ok(replay_check(&Deployed::new(compiled), &store, &actors).await?)
}

/// Prints the details of a refused publish (every problem, failure or
/// change, one per line) and gives the one-line error.
fn refused(out: &Output, file: &str, e: PublishError) -> CliError {
    let e = match e {
        PublishError::Invalid(errors) => return problems(out, file, &errors),
        PublishError::Registry(r) => return r.into(),
        other => other,
    };
    let code = if e.is_model_fault() || matches!(e, PublishError::Version { .. }) {
        USAGE
    } else {
        FAILED
    };
    let text = e
        .to_string()
        .replace("with `breaking`", "with --breaking")
        .replace("with `force`", "with --force");
    let mut lines = text.lines();
    let first = lines
        .next()
        .unwrap_or_default()
        .trim_end_matches(':')
        .to_owned();
    for detail in lines {
        out.line(detail.trim());
    }
    CliError::new(code, format!("{file}: {first}"))
}
