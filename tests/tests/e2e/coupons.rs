//! `/api/restaurants/{id}/coupons`.

use serde_json::json;

use crate::helpers::Mesh;

#[tokio::test]
async fn a_coupon_is_created_listed_and_switched_off_by_staff() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let staff = Mesh::staff(id);
    let path = format!("/api/restaurants/{id}/coupons");

    let created = mesh
        .post(
            &path,
            Some(&staff),
            &json!({
                "code": "welcome", "description": "12.5% off", "discount_type": "percent",
                "value": 12.5, "min_order": "15", "max_redemptions": 50, "max_per_customer": 1,
                "valid_until": "2099-12-31T23:59:59Z"
            }),
        )
        .await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.text.contains(r#""value":12.5"#), "{}", created.text);
    assert!(
        created.text.contains(r#""min_order":15.00"#),
        "{}",
        created.text
    );
    let coupon = created.json();
    let coupon_id = coupon["id"].as_i64().expect("id");
    assert_eq!(created.header("location"), format!("{path}/{coupon_id}"));
    assert_eq!(coupon["code"], "WELCOME");
    assert_eq!(coupon["discount_type"], "percent");
    assert_eq!(coupon["currency"], "USD");
    assert_eq!(coupon["max_redemptions"], 50);
    assert_eq!(coupon["redemptions"], 0);
    assert_eq!(coupon["active"], true);
    assert_eq!(coupon["valid_until"], "2099-12-31T23:59:59Z");

    let fixed = mesh
        .post(
            &path,
            Some(&staff),
            &json!({"code": "FIVE", "discount_type": "fixed", "value": 5}),
        )
        .await;
    assert_eq!(fixed.status, 201, "{}", fixed.text);
    assert!(fixed.text.contains(r#""value":5.00"#), "{}", fixed.text);

    let listed = mesh.get(&path, Some(&staff)).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(2));
    let one = mesh.get(created.header("location"), Some(&staff)).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json()["code"], "WELCOME");

    let off = mesh
        .patch(
            &format!("{path}/{coupon_id}"),
            Some(&staff),
            &json!({"active": false, "max_redemptions": 60}),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.json()["active"], false);
    assert_eq!(off.json()["max_redemptions"], 60);
    // The end is kept when not sent, and a null takes it away.
    assert_eq!(off.json()["valid_until"], "2099-12-31T23:59:59Z");
    let endless = mesh
        .patch(
            &format!("{path}/{coupon_id}"),
            Some(&staff),
            &json!({"valid_until": null}),
        )
        .await;
    assert_eq!(endless.status, 200, "{}", endless.text);
    assert_eq!(endless.json()["valid_until"], serde_json::Value::Null);
    assert_eq!(endless.json()["active"], false);
}

#[tokio::test]
async fn a_taken_coupon_code_is_409() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let path = format!("/api/restaurants/{id}/coupons");
    let body = json!({"code": "SAVE", "discount_type": "percent", "value": 10});

    let first = mesh.post(&path, Some(&Mesh::admin()), &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = mesh
        .post(
            &path,
            Some(&Mesh::admin()),
            &json!({"code": "save", "discount_type": "fixed", "value": 1}),
        )
        .await;

    assert_eq!(again.problem(409, None)["code"], "coupon_code_taken");
    let listed = mesh.get(&path, Some(&Mesh::admin())).await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn coupons_are_hidden_from_the_public_customers_and_other_staff() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Mine").await;
    let other = mesh.restaurant("Other").await;
    let path = format!("/api/restaurants/{id}/coupons");
    let body = json!({"code": "SAVE", "discount_type": "percent", "value": 10});

    mesh.get(&path, None).await.problem(401, None);
    mesh.get(&path, Some(&Mesh::customer()))
        .await
        .problem(403, None);
    mesh.get(&path, Some(&Mesh::staff(other)))
        .await
        .problem(403, None);
    mesh.post(&path, None, &body).await.problem(401, None);
    mesh.post(&path, Some(&Mesh::staff(other)), &body)
        .await
        .problem(403, None);
    mesh.patch(
        &format!("{path}/1"),
        Some(&Mesh::customer()),
        &json!({"active": false}),
    )
    .await
    .problem(403, None);

    let listed = mesh.get(&path, Some(&Mesh::staff(id))).await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn bad_coupons_are_422_naming_the_field_and_write_nothing() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let staff = Mesh::staff(id);
    let path = format!("/api/restaurants/{id}/coupons");
    let cases = [
        (json!({"discount_type": "percent", "value": 10}), "code"),
        (
            json!({"code": "", "discount_type": "percent", "value": 10}),
            "code",
        ),
        (
            json!({"code": "X".repeat(65), "discount_type": "percent", "value": 10}),
            "code",
        ),
        (
            json!({"code": "BOGO", "discount_type": "bogo", "value": 10}),
            "discount_type",
        ),
        (
            json!({"code": "ZERO", "discount_type": "percent", "value": 0}),
            "value",
        ),
        (
            json!({"code": "HUGE", "discount_type": "percent", "value": 150}),
            "value",
        ),
        (
            json!({"code": "CENT", "discount_type": "fixed", "value": 0.001}),
            "value",
        ),
        (
            json!({"code": "NEG", "discount_type": "fixed", "value": -5}),
            "value",
        ),
        (
            json!({"code": "MIN", "discount_type": "percent", "value": 10, "min_order": -1}),
            "min_order",
        ),
        (
            json!({"code": "WHEN", "discount_type": "percent", "value": 10, "valid_until": "next tuesday"}),
            "valid_until",
        ),
        (
            json!({"code": "BACK", "discount_type": "percent", "value": 10,
                   "valid_from": "2030-01-02T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}),
            "valid_until",
        ),
        (
            json!({"code": "LIM", "discount_type": "percent", "value": 10, "max_redemptions": -1}),
            "max_redemptions",
        ),
    ];

    for (body, field) in cases {
        mesh.post(&path, Some(&staff), &body)
            .await
            .problem(422, Some(field));
    }
    let listed = mesh.get(&path, Some(&staff)).await.json();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    mesh.patch(
        &format!("{path}/31337"),
        Some(&staff),
        &json!({"active": false}),
    )
    .await
    .problem(404, None);
    mesh.patch(
        &format!("{path}/31337"),
        Some(&staff),
        &json!({"active": "no"}),
    )
    .await
    .problem(422, Some("active"));
}
