//! The restaurant-svc process; everything it does is in the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    foodmesh_shared::app::run_service(
        foodmesh_shared::ServiceName::Restaurant,
        restaurant_svc::build,
    )
    .await
}
