//! The `foodmesh-bench` command; everything it does is in the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let command = foodmesh_bench::report::shell_line(std::env::args());
    let cli = foodmesh_bench::cli::Cli::parse();
    match foodmesh_bench::run(cli, command).await {
        Ok(report) => {
            print!("{}", report.table());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("foodmesh-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
