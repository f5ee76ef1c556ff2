//! Creating, reading, listing, updating and deleting restaurants.

use foodmesh_proto::common::v1::{Address, GeoPoint, PageRequest};
use foodmesh_proto::restaurant::v1 as pb;
use tonic::Code;

use crate::helpers::{amount, fields, price_line, reason, restaurant_input, spawn_app};

#[tokio::test]
async fn a_created_restaurant_reads_back_as_it_was_given() {
    let app = spawn_app().await;

    let created = app.a_restaurant().await;
    let read = app
        .client()
        .get_restaurant(pb::GetRestaurantRequest { id: created.id })
        .await
        .expect("restaurant is found")
        .into_inner();

    assert_eq!(read, created);
    assert_eq!(read.name, "Pizza Palace");
    assert_eq!(
        read.address.as_ref().map(|a| a.zip_code.as_str()),
        Some("10001")
    );
    assert_eq!(read.location.map(|l| l.latitude), Some(40.7128));
    assert_eq!(read.opening_hours[0].opens, "11:00");
    assert_eq!(amount(&read.delivery_fee), 299);
    assert_eq!(
        read.delivery_fee.map(|m| m.currency),
        Some("USD".to_owned())
    );
    assert!(read.active);
}

#[tokio::test]
async fn currency_timezone_and_active_have_defaults() {
    let app = spawn_app().await;
    let input = pb::RestaurantInput {
        currency: String::new(),
        timezone: String::new(),
        location: None,
        ..restaurant_input("Plain")
    };

    let created = app.create_restaurant(input).await;

    assert_eq!(created.currency, "USD");
    assert_eq!(created.timezone, "UTC");
    assert!(created.active);
    assert_eq!(created.location, None);
}

#[tokio::test]
async fn every_invalid_restaurant_field_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let mut input = restaurant_input(" ");
    input.phone = "12125550100".to_owned();
    input.email = "info".to_owned();
    input.address = Some(Address {
        zip_code: "1".repeat(21),
        country: "USA".to_owned(),
        ..input.address.unwrap_or_default()
    });
    input.location = Some(GeoPoint {
        latitude: 91.0,
        longitude: 0.0,
    });
    input.currency = "XYZ".to_owned();
    input.opening_hours.push(pb::OpeningHours {
        day_of_week: 2,
        opens: "9:00".to_owned(),
        closes: "22:00".to_owned(),
    });
    input.delivery_fee_minor = -1;
    input.tax_rate_ppm = 1_000_001;

    let refused = app
        .client()
        .create_restaurant(pb::CreateRestaurantRequest {
            restaurant: Some(input),
        })
        .await
        .expect_err("invalid input is refused");

    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "VALIDATION_FAILED");
    assert_eq!(
        fields(&refused),
        [
            "name",
            "phone",
            "email",
            "address.zip_code",
            "address.country",
            "location.latitude",
            "currency",
            "opening_hours[1].opens",
            "delivery_fee_minor",
            "tax_rate_ppm",
        ]
    );
    assert!(app.all_restaurants().await.is_empty());
}

#[tokio::test]
async fn a_restaurant_needs_an_address() {
    let app = spawn_app().await;
    let input = pb::RestaurantInput {
        address: None,
        ..restaurant_input("Nowhere")
    };

    let refused = app
        .client()
        .create_restaurant(pb::CreateRestaurantRequest {
            restaurant: Some(input),
        })
        .await
        .expect_err("no address is refused");

    assert_eq!(fields(&refused), ["address"]);
}

#[tokio::test]
async fn an_update_changes_only_the_fields_it_sets() {
    let app = spawn_app().await;
    let created = app.a_restaurant().await;

    let updated = app
        .client()
        .update_restaurant(pb::UpdateRestaurantRequest {
            id: created.id,
            patch: Some(pb::RestaurantPatch {
                name: Some("Pizza Palazzo".to_owned()),
                delivery_fee_minor: Some(0),
                opening_hours: vec![pb::OpeningHours {
                    day_of_week: 6,
                    opens: "18:00".to_owned(),
                    closes: "02:00".to_owned(),
                }],
                replace_opening_hours: true,
                ..Default::default()
            }),
        })
        .await
        .expect("update is accepted")
        .into_inner();

    assert_eq!(updated.name, "Pizza Palazzo");
    assert_eq!(amount(&updated.delivery_fee), 0);
    assert_eq!(updated.opening_hours.len(), 1);
    assert_eq!(updated.opening_hours[0].closes, "02:00");
    assert_eq!(updated.phone, created.phone);
    assert_eq!(updated.address, created.address);
    assert_eq!(updated.tax_rate_ppm, created.tax_rate_ppm);
}

#[tokio::test]
async fn an_invalid_update_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let created = app.a_restaurant().await;

    let refused = app
        .client()
        .update_restaurant(pb::UpdateRestaurantRequest {
            id: created.id,
            patch: Some(pb::RestaurantPatch {
                name: Some("New name".to_owned()),
                email: Some("not-an-email".to_owned()),
                opening_hours: vec![pb::OpeningHours {
                    day_of_week: 1,
                    opens: "10:00".to_owned(),
                    closes: "20:00".to_owned(),
                }],
                ..Default::default()
            }),
        })
        .await
        .expect_err("a bad email is refused");

    // Hours given without the flag that says to replace them are refused,
    // not silently ignored.
    assert_eq!(fields(&refused), ["replace_opening_hours", "email"]);
    let read = app
        .client()
        .get_restaurant(pb::GetRestaurantRequest { id: created.id })
        .await
        .expect("restaurant is found")
        .into_inner();
    assert_eq!(read.name, "Pizza Palace");
    assert_eq!(read.opening_hours, created.opening_hours);
}

#[tokio::test]
async fn a_deleted_restaurant_and_its_menu_are_not_found_anywhere() {
    let app = spawn_app().await;
    let restaurant = app.a_restaurant().await;
    let item = app.an_item(restaurant.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();

    client
        .delete_restaurant(pb::DeleteRestaurantRequest { id: restaurant.id })
        .await
        .expect("delete is accepted");

    let id = restaurant.id;
    let refusals = [
        client
            .get_restaurant(pb::GetRestaurantRequest { id })
            .await
            .map(drop),
        client
            .get_menu(pb::GetMenuRequest {
                restaurant_id: id,
                include_unavailable: true,
            })
            .await
            .map(drop),
        client
            .get_menu_item(pb::GetMenuItemRequest {
                restaurant_id: id,
                item_id: item.id,
            })
            .await
            .map(drop),
        client
            .update_restaurant(pb::UpdateRestaurantRequest {
                id,
                patch: Some(pb::RestaurantPatch::default()),
            })
            .await
            .map(drop),
        client
            .create_category(pb::CreateCategoryRequest {
                restaurant_id: id,
                name: "Late".to_owned(),
                ..Default::default()
            })
            .await
            .map(drop),
        client
            .price_order(pb::PriceOrderRequest {
                restaurant_id: id,
                lines: vec![price_line(item.id, 1, &[])],
            })
            .await
            .map(drop),
        client
            .delete_restaurant(pb::DeleteRestaurantRequest { id })
            .await
            .map(drop),
    ];
    for refused in refusals {
        let status = refused.expect_err("a deleted restaurant is not found");
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(reason(&status), "RESTAURANT_NOT_FOUND");
    }
    assert!(app.all_restaurants().await.is_empty());
}

#[tokio::test]
async fn listing_pages_through_every_restaurant_exactly_once() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            app.create_restaurant(restaurant_input(&format!("R{i}")))
                .await
                .id,
        );
    }

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .client()
            .list_restaurants(pb::ListRestaurantsRequest {
                page: Some(PageRequest {
                    page_size: 2,
                    page_token: token,
                }),
                ..Default::default()
            })
            .await
            .expect("page is listed")
            .into_inner();
        pages += 1;
        seen.extend(page.restaurants.iter().map(|r| r.id));
        token = page.page.unwrap_or_default().next_page_token;
        if token.is_empty() {
            break;
        }
    }

    assert_eq!(pages, 3);
    assert_eq!(seen, created);
}

#[tokio::test]
async fn listing_filters_ignore_case_and_hide_inactive_restaurants() {
    let app = spawn_app().await;
    let italian = app.a_restaurant().await;
    app.create_restaurant(pb::RestaurantInput {
        cuisine_type: "Japanese".to_owned(),
        ..restaurant_input("Sakura")
    })
    .await;
    let closed = app
        .create_restaurant(pb::RestaurantInput {
            active: Some(false),
            ..restaurant_input("Closed Pizza")
        })
        .await;
    let list = |include_inactive| pb::ListRestaurantsRequest {
        cuisine_type: "ITALIAN".to_owned(),
        city: "new york".to_owned(),
        include_inactive,
        ..Default::default()
    };

    let public = app
        .client()
        .list_restaurants(list(false))
        .await
        .expect("listed")
        .into_inner();
    let staff = app
        .client()
        .list_restaurants(list(true))
        .await
        .expect("listed")
        .into_inner();

    let ids =
        |r: &pb::ListRestaurantsResponse| r.restaurants.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(&public), [italian.id]);
    assert_eq!(ids(&staff), [italian.id, closed.id]);
}

#[tokio::test]
async fn a_bad_page_token_or_page_size_is_refused_by_name() {
    let app = spawn_app().await;

    let refused = app
        .client()
        .list_restaurants(pb::ListRestaurantsRequest {
            page: Some(PageRequest {
                page_size: 101,
                page_token: "not-a-token".to_owned(),
            }),
            ..Default::default()
        })
        .await
        .expect_err("bad paging is refused");

    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["page_size", "page_token"]);
}
