//! The gateway process; everything it does is in the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gateway::run_from_env().await
}
