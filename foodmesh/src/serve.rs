//! `foodmesh serve <process>`: the same life as each service's own binary,
//! so the launcher needs no other executable.

use foodmesh_shared::ServiceName;
use foodmesh_shared::app::run_service;

use crate::cli::Process;

/// Runs `process` until Ctrl-C or SIGTERM.
///
/// # Errors
/// The process fails to build (database, port) or to serve.
pub async fn serve(process: Process) -> anyhow::Result<()> {
    match process {
        Process::Gateway => gateway::run_from_env().await,
        Process::Service(s @ ServiceName::Order) => run_service(s, order_svc::build).await,
        Process::Service(s @ ServiceName::Restaurant) => {
            run_service(s, restaurant_svc::build).await
        }
        Process::Service(s @ ServiceName::Kitchen) => run_service(s, kitchen_svc::build).await,
        Process::Service(s @ ServiceName::Delivery) => run_service(s, delivery_svc::build).await,
        Process::Service(s @ ServiceName::Accounting) => {
            run_service(s, accounting_svc::build).await
        }
        Process::Service(s @ ServiceName::Notification) => {
            run_service(s, notification_svc::build).await
        }
    }
}
