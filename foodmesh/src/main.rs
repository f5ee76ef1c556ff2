//! The `foodmesh` command; everything it does is in the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    foodmesh::run(foodmesh::cli::Cli::parse()).await
}
