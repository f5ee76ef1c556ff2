//! The local launcher: one command runs the whole mesh on one machine, with
//! no containers, against the local Postgres and Redis.
//!
//! The binary links every service and the gateway, and `up` starts seven
//! copies of itself (`foodmesh serve <process>`), one per process of the
//! mesh. So `cargo run -p foodmesh -- up` needs no other binary to have been
//! built, and each process still runs alone, as it does in production.
//!
//! # Layout
//! - [`cli`] — the commands and their flags.
//! - [`supervisor`] — `up`: start, wait until healthy, restart what dies,
//!   stop in order.
//! - [`serve`] — `serve`: one process in the foreground.
//! - [`demo`] — the demo restaurants `up` loads once.
//! - [`token`] — `token`: a signed bearer token for the gateway.

pub mod cli;
pub mod demo;
pub mod serve;
pub mod supervisor;
pub mod targets;
pub mod token;

/// Runs one parsed command line.
///
/// # Errors
/// Whatever the command reports: bad flags, Postgres or Redis unreachable,
/// a process that fails to start.
pub async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Up(args) => supervisor::up(args).await,
        cli::Command::Serve { process } => serve::serve(process).await,
        cli::Command::Token(args) => {
            println!("{}", token::issue(&args)?);
            Ok(())
        }
    }
}
