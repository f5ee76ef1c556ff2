//! The accounting-svc process; everything it does is in the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    foodmesh_shared::app::run_service(
        foodmesh_shared::ServiceName::Accounting,
        accounting_svc::build,
    )
    .await
}
