//! The standard gRPC health check every service answers.

use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_service_reports_serving_to_the_health_check() {
    let app = spawn_app().await;
    let channel = Channel::from_shared(app.order.url())
        .expect("a URI")
        .connect()
        .await
        .expect("connects");
    let mut health = HealthClient::new(channel);

    for service in ["", "foodmesh.order.v1.OrderService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health answers")
            .into_inner()
            .status;

        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
}
