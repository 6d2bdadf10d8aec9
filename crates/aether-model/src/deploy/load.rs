//! Turning a pointer and the bytes it names into a model a node can run:
//! the hash, the name and version, the checker, the examples.

use super::pointer::{Pointer, version_key};
use super::registry::{decode_model, sha256};
use crate::check::check;
use crate::compiled::CompiledModel;
use crate::error::ModelErrors;

/// Compiles version `pointer.version` of `name` from its stored `bytes`
/// (CPU-bound: run it off the async threads).
///
/// # Errors
///
/// Why the node cannot run it, as one message.
pub(crate) fn compile(
    name: &str,
    pointer: &Pointer,
    bytes: &[u8],
) -> Result<CompiledModel, String> {
    let key = version_key(name, pointer.version);
    let sha = sha256(bytes);
    if sha != pointer.sha256 {
        return Err(format!(
            "{key} hashes to {sha}, not to the pointer's {}: refusing to run it",
            pointer.sha256
        ));
    }
    let model =
        decode_model(name, pointer.version, bytes).map_err(
            |e| match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            },
        )?;
    let compiled =
        check(&model).map_err(|e| format!("{key} does not check: {}", ModelErrors(e)))?;
    compiled.run_examples().map_err(|failures| {
        format!(
            "{key}: examples fail: {}",
            failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    Ok(compiled)
}
