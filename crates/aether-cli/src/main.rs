//! `aether`: inspect and operate a running Aether system on NATS.
//!
//! ```text
//! aether streams                       # Aether's event and snapshot streams
//! aether partitions balance            # spread the log partitions' leaders
//! aether events order-42 --follow      # an actor's history, then live
//! aether cluster members               # membership with lease state
//! aether model publish account.yaml     # an executable model, to the cluster
//! ```
//!
//! Connection settings as the `nats` CLI takes them (`--server` or
//! `NATS_URL`, `--creds` or `NATS_CREDS`, ...); human tables by default,
//! `--json` for scripts; colour only on a terminal. Exit codes: 0 done,
//! 1 the operation failed, 2 bad usage or input, 3 not found, 4 NATS
//! unreachable, 5 credentials or permission refused.

mod args;
mod cmd;
mod conn;
mod error;
mod interrupt;
mod output;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::CliError;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout (exit 0) and usage
            // errors to stderr (exit 2).
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            std::process::ExitCode::from(e.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let out = output::Output::new(cli.global.json);
    match cli.command {
        Command::Streams => cmd::streams::run(&cli.global, &out).await,
        Command::Partitions(a) => cmd::partitions::run(&cli.global, &out, a).await,
        Command::Events(a) => cmd::events::run(&cli.global, &out, a).await,
        Command::Actor(a) => cmd::actor::run(&cli.global, &out, a).await,
        Command::Tail(a) => cmd::tail::run(&cli.global, &out, a).await,
        Command::Cluster(a) => cmd::cluster::run(&cli.global, &out, a).await,
        Command::Claims(a) => cmd::cluster::claims(&cli.global, &out, a).await,
        Command::Projections(a) => cmd::projections::run(&cli.global, &out, a).await,
        Command::Rebuild(a) => cmd::projections::rebuild(&cli.global, &out, a).await,
        Command::Handoff(a) => cmd::handoff::run(&cli.global, &out, a).await,
        Command::Actors(a) => cmd::runtime::actors(&cli.global, &out, a).await,
        Command::Passivate(a) => cmd::runtime::passivate(&cli.global, &out, a).await,
        Command::Model(a) => cmd::model::run(&cli.global, &out, a).await,
    }
}
