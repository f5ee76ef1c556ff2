//! The standard gRPC health check every service answers.

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_service_reports_serving_to_the_health_check() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel.clone());

    for service in ["", "foodmesh.restaurant.v1.RestaurantService"] {
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
