//! `aether model check|test|publish|list|show|diff`: executable models.
//! `check` and `test` read a file and need no server; the others use the
//! model registry (`aether_model::deploy`).

mod file;
mod local;
mod publish;
mod registry;

use crate::args::{Global, ModelArgs, ModelWhat};
use crate::error::CliError;
use crate::output::Output;

pub(crate) async fn run(g: &Global, out: &Output, a: ModelArgs) -> Result<(), CliError> {
    match a.what {
        ModelWhat::Check(f) => local::check(out, &f.file),
        ModelWhat::Test(f) => local::test(out, &f.file),
        ModelWhat::Publish(p) => publish::publish(g, out, &a.bucket, p).await,
        ModelWhat::List => registry::list(g, out, &a.bucket).await,
        ModelWhat::Show(s) => registry::show(g, out, &a.bucket, s).await,
        ModelWhat::Diff(d) => registry::diff(g, out, &a.bucket, d).await,
    }
}
