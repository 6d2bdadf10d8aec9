//! `aether model list|show|diff`: what the model registry holds.

use std::time::Duration;

use aether_model::deploy::{ModelRegistry, RegistryConfig};
use serde_json::json;

use crate::args::{DiffArgs, Global, ShowArgs};
use crate::error::CliError;
use crate::output::{self, Output};

pub(super) fn config(g: &Global, bucket: &str, replicas: usize) -> RegistryConfig {
    RegistryConfig {
        bucket: bucket.to_owned(),
        replicas,
        timeout: Duration::try_from_secs_f64(g.timeout).unwrap_or(Duration::from_secs(5)),
        ..RegistryConfig::default()
    }
}

/// The registry as it exists (`None` when nothing was ever published).
async fn existing(g: &Global, bucket: &str) -> Result<Option<ModelRegistry>, CliError> {
    let client = crate::conn::client(g).await?;
    match ModelRegistry::open_existing(client, config(g, bucket, 1)).await {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn list(g: &Global, out: &Output, bucket: &str) -> Result<(), CliError> {
    let listed = match existing(g, bucket).await? {
        Some(r) => r.list().await?,
        None => Vec::new(),
    };
    if out.json {
        let list: Vec<_> = listed
            .iter()
            .map(|m| {
                json!({
                    "name": m.name, "version": m.pointer.version, "sha256": m.pointer.sha256,
                    "fingerprint": m.pointer.fingerprint, "revision": m.revision,
                    "updated": output::time(m.updated.into()),
                })
            })
            .collect();
        out.json(&json!(list), false);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.pointer.version.to_string(),
                m.pointer.sha256.chars().take(12).collect(),
                m.pointer.fingerprint.clone(),
                m.revision.to_string(),
                output::time(m.updated.into()),
            ]
        })
        .collect();
    out.table(
        &[
            "MODEL",
            "VERSION",
            "SHA256",
            "FINGERPRINT",
            "REVISION",
            "PUBLISHED",
        ],
        &rows,
    );
    Ok(())
}

pub(super) async fn show(
    g: &Global,
    out: &Output,
    bucket: &str,
    s: ShowArgs,
) -> Result<(), CliError> {
    let Some(registry) = existing(g, bucket).await? else {
        return Err(CliError::not_found(format!(
            "no model {} is published (the registry {bucket} does not exist)",
            s.name
        )));
    };
    let shown = registry.show(&s.name, s.at).await?;
    if out.json {
        let model: serde_json::Value =
            serde_json::from_str(&shown.model.to_json()).unwrap_or_default();
        out.json(
            &json!({
                "name": shown.model.model, "version": shown.model.version,
                "sha256": shown.sha256, "current": shown.current, "pointer": shown.pointer,
                "model": model,
            }),
            false,
        );
    } else {
        out.line(&shown.model.to_json_pretty());
    }
    Ok(())
}

pub(super) async fn diff(
    g: &Global,
    out: &Output,
    bucket: &str,
    d: DiffArgs,
) -> Result<(), CliError> {
    let Some(registry) = existing(g, bucket).await? else {
        return Err(CliError::not_found(format!(
            "no model {} is published (the registry {bucket} does not exist)",
            d.name
        )));
    };
    let diff = registry.diff(&d.name, d.from, d.to).await?;
    if out.json {
        let mut value = serde_json::to_value(&diff).unwrap_or_default();
        value["breaking"] = json!(diff.breaking());
        out.json(&value, false);
    } else {
        for line in diff.to_string().lines() {
            out.line(line);
        }
        for b in diff.breaking() {
            out.line(&format!("breaking: {b}"));
        }
    }
    Ok(())
}
