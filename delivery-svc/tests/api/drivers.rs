//! Drivers: checked when added, available when they say, and followed by
//! their live position — which costs no database read.

use foodmesh_proto::delivery::v1 as pb;

use crate::app::{point, reason, spawn_app};

#[tokio::test]
async fn a_driver_is_added_checked_and_unavailable_until_they_say_so() {
    let app = spawn_app().await;
    let mut client = app.client();
    let refused = client
        .create_driver(pb::CreateDriverRequest {
            name: " ".to_owned(),
            phone: "555-0100".to_owned(),
            vehicle: "scooter".to_owned(),
            location: Some(point((95.0, 10.0))),
        })
        .await
        .expect_err("refused");
    assert_eq!(reason(&refused), "VALIDATION_FAILED");
    let fields = foodmesh_shared::testing::fields(&refused);
    assert_eq!(fields, ["name", "phone", "location.latitude"]);

    let driver = client
        .create_driver(pb::CreateDriverRequest {
            name: "Ana Diaz".to_owned(),
            phone: "+12125550100".to_owned(),
            vehicle: "scooter".to_owned(),
            location: None,
        })
        .await
        .expect("added")
        .into_inner();
    assert!(!driver.available);
    let twin = client
        .create_driver(pb::CreateDriverRequest {
            name: "Another Ana".to_owned(),
            phone: "+12125550100".to_owned(),
            vehicle: "car".to_owned(),
            location: None,
        })
        .await
        .expect_err("the phone is taken");
    assert_eq!(reason(&twin), "PHONE_TAKEN");

    let available = client
        .update_driver(pb::UpdateDriverRequest {
            driver_id: driver.id,
            available: Some(true),
        })
        .await
        .expect("updated")
        .into_inner();
    assert!(available.available);
    let listed = client
        .list_drivers(pb::ListDriversRequest {
            available_only: true,
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.drivers.len(), 1);
}

#[tokio::test]
async fn a_location_is_kept_live_and_refused_off_the_globe_or_for_no_driver() {
    let app = spawn_app().await;
    let driver = app
        .driver_at("Ben Ode", "+12125550101", (40.70, -74.00))
        .await;
    let mut client = app.client();
    client
        .update_driver_location(pb::UpdateDriverLocationRequest {
            driver_id: driver.id,
            location: Some(point((40.75, -73.98))),
        })
        .await
        .expect("taken");
    let seen = client
        .get_driver(pb::GetDriverRequest { id: driver.id })
        .await
        .expect("read")
        .into_inner();
    let at = seen.location.expect("a location");
    assert!((at.latitude - 40.75).abs() < 1e-4, "{at:?}");
    assert!((at.longitude + 73.98).abs() < 1e-4, "{at:?}");

    let off = client
        .update_driver_location(pb::UpdateDriverLocationRequest {
            driver_id: driver.id,
            location: Some(point((40.0, 200.0))),
        })
        .await
        .expect_err("off the globe");
    assert_eq!(
        foodmesh_shared::testing::fields(&off),
        ["location.longitude"]
    );
    let nobody = client
        .update_driver_location(pb::UpdateDriverLocationRequest {
            driver_id: driver.id + 100,
            location: Some(point((40.0, -74.0))),
        })
        .await
        .expect_err("no such driver");
    assert_eq!(reason(&nobody), "DRIVER_NOT_FOUND");
}
