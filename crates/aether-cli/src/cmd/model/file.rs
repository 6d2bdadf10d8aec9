//! Reading a model file, and printing its problems.

use aether_model::{Model, ModelError};

use crate::error::{CliError, USAGE};
use crate::output::Output;

/// Reads a model file: JSON when its name ends in `.json`, else YAML.
/// A file that does not read, or is not a model, is printed as its
/// problem (path, line:col) and ends the command (exit 2).
pub(crate) fn read(out: &Output, file: &str) -> Result<Model, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::usage(format!("cannot read {file}: {e}")))?;
    let parsed = if file.ends_with(".json") {
        Model::from_json(&text)
    } else {
        Model::from_yaml(&text)
    };
    parsed.map_err(|e| problems(out, file, &[e]))
}

/// Prints every problem (with its path) and gives the error that ends the
/// command.
pub(crate) fn problems(out: &Output, file: &str, errors: &[ModelError]) -> CliError {
    if out.json {
        let list: Vec<_> = errors
            .iter()
            .map(|e| {
                serde_json::json!({
                    "path": e.path,
                    "line": e.position.map(|p| p.line),
                    "column": e.position.map(|p| p.column),
                    "message": e.message,
                })
            })
            .collect();
        out.json(
            &serde_json::json!({"file": file, "ok": false, "problems": list}),
            false,
        );
    } else {
        for e in errors {
            out.line(&e.to_string());
        }
    }
    let n = errors.len();
    CliError::new(
        USAGE,
        format!(
            "{file}: {n} problem{} (printed above)",
            if n == 1 { "" } else { "s" }
        ),
    )
}
