//! `/api/restaurants` and `/api/restaurants/{id}`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Mesh, SECRET, SEED_BODY};

#[tokio::test]
async fn the_seed_restaurant_body_is_created_by_an_admin_and_reads_back() {
    let mesh = Mesh::start().await;

    let created = mesh
        .raw(
            Method::POST,
            "/api/restaurants",
            Some(&Mesh::admin()),
            Some("application/json"),
            SEED_BODY,
        )
        .await;

    assert_eq!(created.status, 201, "{}", created.text);
    let body = created.json();
    let id = body["id"].as_i64().expect("id");
    assert_eq!(created.header("location"), format!("/api/restaurants/{id}"));
    let read = mesh.get(created.header("location"), None).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let restaurant = read.json();
    assert_eq!(restaurant["name"], "Pizza Palace");
    assert_eq!(restaurant["description"], "Best pizza in town");
    assert_eq!(restaurant["phone"], "+1234567890");
    assert_eq!(restaurant["email"], "info@pizzapalace.com");
    assert_eq!(restaurant["cuisine_type"], "Italian");
    assert_eq!(
        restaurant["address"],
        json!({"street": "123 Main St", "city": "New York", "state": "NY",
               "zip_code": "10001", "country": "US"})
    );
    assert_eq!(restaurant["location"]["latitude"], 40.7128);
    assert_eq!(restaurant["location"]["longitude"], -74.006);
    assert_eq!(restaurant["currency"], "USD");
    assert_eq!(restaurant["active"], true);
    assert!(
        read.text.contains(r#""delivery_fee":0.00"#),
        "{}",
        read.text
    );
    assert!(restaurant["created_at"].is_string(), "{}", read.text);
    let listed = mesh.get("/api/restaurants", None).await.json();
    assert_eq!(listed["items"][0]["id"], id);
}

#[tokio::test]
async fn fees_and_tax_rates_read_back_exactly() {
    let mesh = Mesh::start().await;
    let mut body: Value = serde_json::from_str(SEED_BODY).expect("seed parses");
    body["delivery_fee"] = json!(2.5);
    body["tax_rate"] = json!("8.75");
    body["avg_prep_minutes"] = json!(25);
    body["timezone"] = json!("America/New_York");
    body["opening_hours"] = json!([{"day_of_week": 5, "opens": "18:00", "closes": "02:00"}]);

    let created = mesh
        .post("/api/restaurants", Some(&Mesh::admin()), &body)
        .await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.text.contains(r#""delivery_fee":2.50"#),
        "{}",
        created.text
    );
    assert!(
        created.text.contains(r#""tax_rate":8.75"#),
        "{}",
        created.text
    );
    let restaurant = created.json();
    assert_eq!(restaurant["avg_prep_minutes"], 25);
    assert_eq!(restaurant["timezone"], "America/New_York");
    assert_eq!(restaurant["opening_hours"][0]["closes"], "02:00");
}

#[tokio::test]
async fn creating_a_restaurant_without_a_token_is_401_and_writes_nothing() {
    let mesh = Mesh::start().await;

    let reply = mesh
        .raw(
            Method::POST,
            "/api/restaurants",
            None,
            Some("application/json"),
            SEED_BODY,
        )
        .await;

    reply.problem(401, None);
    assert!(reply.header("www-authenticate").starts_with("Bearer"));
    assert!(mesh.all_restaurants().await.is_empty());
}

#[tokio::test]
async fn an_expired_forged_or_malformed_token_is_401() {
    let mesh = Mesh::start().await;
    let claims = gateway::auth::Claims {
        sub: "root".to_owned(),
        role: gateway::auth::Role::Admin,
        restaurant_id: None,
        exp: 1_000_000,
        iat: 999_000,
        iss: gateway::auth::ISSUER.to_owned(),
    };
    let encode = |secret: &[u8]| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .expect("encodes")
    };
    let expired = encode(SECRET.as_bytes());
    let forged = gateway::auth::issue(
        b"someone-else",
        gateway::auth::Role::Admin,
        "root",
        None,
        std::time::Duration::from_secs(60),
    )
    .expect("issues");

    for token in [expired.as_str(), forged.as_str(), "not-a-jwt"] {
        let reply = mesh
            .raw(
                Method::POST,
                "/api/restaurants",
                Some(token),
                Some("application/json"),
                SEED_BODY,
            )
            .await;
        reply.problem(401, None);
        assert!(
            reply.header("www-authenticate").contains("invalid_token"),
            "{:?}",
            reply.headers
        );
    }
    assert!(mesh.all_restaurants().await.is_empty());
}

#[tokio::test]
async fn creating_or_deleting_a_restaurant_as_staff_or_customer_is_403() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Mine").await;

    for token in [Mesh::staff(id), Mesh::customer()] {
        let reply = mesh
            .raw(
                Method::POST,
                "/api/restaurants",
                Some(&token),
                Some("application/json"),
                SEED_BODY,
            )
            .await;
        assert_eq!(reply.problem(403, None)["code"], "forbidden");
        mesh.delete(&format!("/api/restaurants/{id}"), Some(&token))
            .await
            .problem(403, None);
    }
    assert_eq!(mesh.all_restaurants().await.len(), 1);
}

/// `seed` with the member at `pointer` replaced by `value`, or removed.
fn edited(seed: &Value, pointer: &str, value: Option<Value>) -> Value {
    let mut body = seed.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let parent = body
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("an object");
    match value {
        Some(value) => parent.insert(key.to_owned(), value),
        None => parent.remove(key),
    };
    body
}

#[tokio::test]
async fn bad_restaurant_bodies_are_422_naming_the_field_and_write_nothing() {
    let mesh = Mesh::start().await;
    let admin = Mesh::admin();
    let seed: Value = serde_json::from_str(SEED_BODY).expect("seed parses");
    let cases = [
        ("/name", None, "name"),
        ("/name", Some(json!("   ")), "name"),
        ("/name", Some(json!("x".repeat(201))), "name"),
        ("/name", Some(json!(42)), "name"),
        ("/address/zip_code", None, "address.zip_code"),
        ("/address", None, "address"),
        (
            "/location/latitude",
            Some(json!("north")),
            "location.latitude",
        ),
        (
            "/location/latitude",
            Some(json!(123.0)),
            "location.latitude",
        ),
        ("/delivery_fee", Some(json!(-1)), "delivery_fee"),
        ("/delivery_fee", Some(json!(2.505)), "delivery_fee"),
        ("/tax_rate", Some(json!(101)), "tax_rate"),
        ("/currency", Some(json!("ZZZ")), "currency"),
        (
            "/opening_hours",
            Some(json!([{"day_of_week": 1, "opens": "25:00", "closes": "22:00"}])),
            "opening_hours[0].opens",
        ),
        ("/email", Some(json!("not an email")), "email"),
        ("/timezone", Some(json!("Europe/Paris; DROP")), "timezone"),
    ];

    for (pointer, value, field) in cases {
        let body = edited(&seed, pointer, value);
        let reply = mesh.post("/api/restaurants", Some(&admin), &body).await;
        reply.problem(422, Some(field));
    }
    assert!(mesh.all_restaurants().await.is_empty());
}

#[tokio::test]
async fn malformed_json_wrong_content_type_and_oversized_bodies_are_refused() {
    let mesh = Mesh::start().await;
    let admin = Mesh::admin();
    let post = |content_type: Option<&'static str>, body: String| {
        let admin = admin.clone();
        let mesh = &mesh;
        async move {
            mesh.raw(
                Method::POST,
                "/api/restaurants",
                Some(&admin),
                content_type,
                body,
            )
            .await
        }
    };

    let malformed = post(Some("application/json"), r#"{"name": "Pizza", "#.to_owned()).await;
    assert_eq!(malformed.problem(400, None)["code"], "malformed_json");
    let text = post(Some("text/plain"), SEED_BODY.to_owned()).await;
    assert_eq!(text.problem(415, None)["code"], "unsupported_media_type");
    let untyped = post(None, SEED_BODY.to_owned()).await;
    untyped.problem(415, None);
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(70_000));
    let oversized = post(Some("application/json"), huge).await;
    assert_eq!(oversized.problem(413, None)["code"], "payload_too_large");
    assert!(mesh.all_restaurants().await.is_empty());
}

#[tokio::test]
async fn path_ids_that_are_not_positive_integers_are_400_naming_the_parameter() {
    let mesh = Mesh::start().await;
    let admin = Mesh::admin();

    mesh.get("/api/restaurants/abc", None)
        .await
        .problem(400, Some("id"));
    mesh.get("/api/restaurants/-3/menu", None)
        .await
        .problem(400, Some("id"));
    mesh.get("/api/restaurants/0/categories", None)
        .await
        .problem(400, Some("id"));
    mesh.patch(
        "/api/restaurants/1/menu/xyz",
        Some(&admin),
        &json!({"name": "x"}),
    )
    .await
    .problem(400, Some("item_id"));
    mesh.delete("/api/restaurants/1/option-groups/1.5", Some(&admin))
        .await
        .problem(400, Some("group_id"));
    mesh.patch("/api/restaurants/1/coupons/first", Some(&admin), &json!({}))
        .await
        .problem(400, Some("coupon_id"));
    mesh.delete(
        "/api/restaurants/1/categories/99999999999999999999",
        Some(&admin),
    )
    .await
    .problem(400, Some("category_id"));
}

#[tokio::test]
async fn an_unknown_restaurant_is_404_on_every_route() {
    let mesh = Mesh::start().await;
    let admin = Mesh::admin();

    let reply = mesh.get("/api/restaurants/999", None).await;
    assert_eq!(reply.problem(404, None)["code"], "restaurant_not_found");
    mesh.get("/api/restaurants/999/menu", None)
        .await
        .problem(404, None);
    mesh.patch("/api/restaurants/999", Some(&admin), &json!({"name": "x"}))
        .await
        .problem(404, None);
    mesh.delete("/api/restaurants/999", Some(&admin))
        .await
        .problem(404, None);
    mesh.post(
        "/api/restaurants/999/menu",
        Some(&admin),
        &json!({"name": "Ghost", "price": 1}),
    )
    .await
    .problem(404, None);
    mesh.get("/api/restaurants/999/coupons", Some(&admin))
        .await
        .problem(404, None);
}

#[tokio::test]
async fn restaurants_are_listed_a_page_at_a_time_and_filtered_by_city() {
    let mesh = Mesh::start().await;
    let a = mesh.restaurant_in("A", "New York").await;
    let b = mesh.restaurant_in("B", "Boston").await;
    let c = mesh.restaurant_in("C", "New York").await;

    let first = mesh.get("/api/restaurants?limit=2", None).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first = first.json();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = mesh
        .get(&format!("/api/restaurants?limit=2&cursor={cursor}"), None)
        .await
        .json();
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert!(second["next_cursor"].is_null(), "{second}");
    let mut ids: Vec<i64> = first["items"]
        .as_array()
        .into_iter()
        .chain(second["items"].as_array())
        .flatten()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [a, b, c]);

    let boston = mesh.get("/api/restaurants?city=boston", None).await.json();
    assert_eq!(boston["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(boston["items"][0]["id"], b);

    mesh.get("/api/restaurants?limit=zero", None)
        .await
        .problem(400, Some("limit"));
    mesh.get("/api/restaurants?cursor=garbage", None)
        .await
        .problem(400, Some("cursor"));
    mesh.get("/api/restaurants?include_inactive=true", None)
        .await
        .problem(401, None);
    mesh.get(
        "/api/restaurants?include_inactive=true",
        Some(&Mesh::customer()),
    )
    .await
    .problem(403, None);
}

#[tokio::test]
async fn staff_may_patch_their_own_restaurant_but_not_another() {
    let mesh = Mesh::start().await;
    let mine = mesh.restaurant("Mine").await;
    let theirs = mesh.restaurant("Theirs").await;
    let staff = Mesh::staff(mine);

    let patched = mesh
        .patch(
            &format!("/api/restaurants/{mine}"),
            Some(&staff),
            &json!({"delivery_fee": "3.5", "tax_rate": 8.87501, "name": "Mine, renamed"}),
        )
        .await;
    patched.problem(422, Some("tax_rate"));
    let patched = mesh
        .patch(
            &format!("/api/restaurants/{mine}"),
            Some(&staff),
            &json!({"delivery_fee": "3.5", "tax_rate": 8.875, "name": "Mine, renamed"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert!(
        patched.text.contains(r#""delivery_fee":3.50"#),
        "{}",
        patched.text
    );
    assert!(
        patched.text.contains(r#""tax_rate":8.875"#),
        "{}",
        patched.text
    );
    assert_eq!(patched.json()["name"], "Mine, renamed");

    mesh.patch(
        &format!("/api/restaurants/{theirs}"),
        Some(&staff),
        &json!({"name": "Taken"}),
    )
    .await
    .problem(403, None);
    mesh.patch(
        &format!("/api/restaurants/{mine}"),
        None,
        &json!({"name": "Anon"}),
    )
    .await
    .problem(401, None);
    let theirs_now = mesh
        .get(&format!("/api/restaurants/{theirs}"), None)
        .await
        .json();
    assert_eq!(theirs_now["name"], "Theirs");
}

#[tokio::test]
async fn a_deleted_restaurant_is_gone_from_reads_and_listings() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Closing").await;

    let deleted = mesh
        .delete(&format!("/api/restaurants/{id}"), Some(&Mesh::admin()))
        .await;

    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(deleted.text.is_empty());
    mesh.get(&format!("/api/restaurants/{id}"), None)
        .await
        .problem(404, None);
    let listed = mesh.get("/api/restaurants", None).await.json();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
}
