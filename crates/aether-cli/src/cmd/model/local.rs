//! `aether model check FILE` and `aether model test FILE`: no server.

use serde_json::json;

use super::file::{problems, read};
use crate::error::{CliError, FAILED};
use crate::output::Output;

pub(super) fn check(out: &Output, file: &str) -> Result<(), CliError> {
    let model = read(out, file)?;
    let compiled = aether_model::check(&model).map_err(|errors| problems(out, file, &errors))?;
    let fingerprint = compiled.state_fingerprint();
    if out.json {
        out.json(
            &json!({
                "file": file,
                "ok": true,
                "model": compiled.name(),
                "version": compiled.version(),
                "commands": compiled.command_names().collect::<Vec<_>>(),
                "events": compiled.event_types().collect::<Vec<_>>(),
                "queries": model.queries.names().collect::<Vec<_>>(),
                "examples": model.examples.len(),
                "fingerprint": fingerprint,
            }),
            false,
        );
    } else {
        out.line(&format!(
            "ok: {}@{}: {} commands, {} events, {} queries, {} examples; state fingerprint {fingerprint}",
            compiled.name(),
            compiled.version(),
            compiled.command_names().len(),
            compiled.event_types().len(),
            model.queries.len(),
            model.examples.len(),
        ));
    }
    Ok(())
}

pub(super) fn test(out: &Output, file: &str) -> Result<(), CliError> {
    let model = read(out, file)?;
    let compiled = aether_model::check(&model).map_err(|errors| problems(out, file, &errors))?;
    let total = model.examples.len();
    match compiled.run_examples() {
        Ok(n) => {
            if out.json {
                out.json(&json!({"file": file, "examples": n, "failures": []}), false);
            } else {
                out.line(&format!(
                    "ok: {}@{}: {n} examples pass",
                    compiled.name(),
                    compiled.version()
                ));
            }
            Ok(())
        }
        Err(failures) => {
            if out.json {
                let list: Vec<_> = failures
                    .iter()
                    .map(|f| json!({"example": f.example, "message": f.message}))
                    .collect();
                out.json(
                    &json!({"file": file, "examples": total, "failures": list}),
                    false,
                );
            } else {
                for f in &failures {
                    out.line(&format!("FAIL {f}"));
                }
            }
            Err(CliError::new(
                FAILED,
                format!("{file}: {} of {total} examples fail", failures.len()),
            ))
        }
    }
}
