//! The `foodmesh` command; everything it does is in the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    match foodmesh::run(foodmesh::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the error and its causes: what a person needs, not
            // a Debug dump or a backtrace of the launcher's own frames.
            eprintln!("foodmesh: {e:#}");
            ExitCode::FAILURE
        }
    }
}
