//! Coupons: creation rules, every redemption limit, atomic redemption under
//! concurrency, idempotency per order, and release.

use foodmesh_proto::restaurant::v1 as pb;
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::{TestApp, amount, fields, reason, spawn_app};

fn coupon(restaurant_id: i64, code: &str) -> pb::CreateCouponRequest {
    pb::CreateCouponRequest {
        restaurant_id,
        code: code.to_owned(),
        kind: pb::DiscountKind::Percent.into(),
        value: 1000,
        ..Default::default()
    }
}

fn redeem(restaurant_id: i64, code: &str, order: &str, customer: &str) -> pb::RedeemCouponRequest {
    pb::RedeemCouponRequest {
        restaurant_id,
        code: code.to_owned(),
        order_ref: order.to_owned(),
        customer_ref: customer.to_owned(),
        subtotal_minor: 2000,
    }
}

async fn held(app: &TestApp, restaurant_id: i64) -> u32 {
    app.client()
        .list_coupons(pb::ListCouponsRequest { restaurant_id })
        .await
        .expect("coupons are listed")
        .into_inner()
        .coupons[0]
        .redemptions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_coupon_limited_to_50_is_redeemed_exactly_50_times_by_100_concurrent_orders() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    app.a_coupon(pb::CreateCouponRequest {
        max_redemptions: 50,
        ..coupon(r.id, "RUSH50")
    })
    .await;

    let mut calls = JoinSet::new();
    for i in 0..100 {
        let mut client = app.client();
        let request = redeem(
            r.id,
            "RUSH50",
            &format!("order-{i}"),
            &format!("customer-{i}"),
        );
        calls.spawn(async move { client.redeem_coupon(request).await });
    }
    let (mut redeemed, mut exhausted) = (0, 0);
    while let Some(call) = calls.join_next().await {
        match call.expect("the call task completes") {
            Ok(_) => redeemed += 1,
            Err(status) if reason(&status) == "COUPON_EXHAUSTED" => exhausted += 1,
            Err(status) => panic!("unexpected refusal: {status:?}"),
        }
    }

    assert_eq!((redeemed, exhausted), (50, 50));
    assert_eq!(held(&app, r.id).await, 50);
}

#[tokio::test]
async fn releasing_a_redemption_frees_its_slot() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    app.a_coupon(pb::CreateCouponRequest {
        max_redemptions: 1,
        ..coupon(r.id, "ONCE")
    })
    .await;
    let mut client = app.client();
    client
        .redeem_coupon(redeem(r.id, "ONCE", "order-a", "alice"))
        .await
        .expect("the first order redeems");
    let refused = client
        .redeem_coupon(redeem(r.id, "ONCE", "order-b", "bob"))
        .await
        .expect_err("the coupon is used up");

    let released = client
        .release_coupon(pb::ReleaseCouponRequest {
            restaurant_id: r.id,
            order_ref: "order-a".to_owned(),
        })
        .await
        .expect("the cancelled order releases it")
        .into_inner();
    let released_again = client
        .release_coupon(pb::ReleaseCouponRequest {
            restaurant_id: r.id,
            order_ref: "order-a".to_owned(),
        })
        .await
        .expect("releasing twice is harmless")
        .into_inner();
    client
        .redeem_coupon(redeem(r.id, "ONCE", "order-b", "bob"))
        .await
        .expect("the freed slot is taken");
    let unknown = client
        .release_coupon(pb::ReleaseCouponRequest {
            restaurant_id: r.id,
            order_ref: "order-z".to_owned(),
        })
        .await
        .expect_err("an order without a redemption has nothing to release");

    assert_eq!(reason(&refused), "COUPON_EXHAUSTED");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(released.released);
    assert_eq!(released_again, released);
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(reason(&unknown), "REDEMPTION_NOT_FOUND");
    assert_eq!(held(&app, r.id).await, 1);
}

#[tokio::test]
async fn redeeming_again_for_the_same_order_returns_the_same_redemption() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    app.a_coupon(pb::CreateCouponRequest {
        max_redemptions: 1,
        ..coupon(r.id, "RETRY")
    })
    .await;
    app.a_coupon(coupon(r.id, "OTHER")).await;
    let mut client = app.client();

    let first = client
        .redeem_coupon(redeem(r.id, "RETRY", "order-1", "alice"))
        .await
        .expect("redeemed")
        .into_inner();
    let retry = client
        .redeem_coupon(redeem(r.id, "retry", "order-1", "alice"))
        .await
        .expect("a retry is answered with the first redemption")
        .into_inner();
    let other = client
        .redeem_coupon(redeem(r.id, "OTHER", "order-1", "alice"))
        .await
        .expect_err("one coupon per order");

    assert_eq!(retry, first);
    assert_eq!(amount(&first.discount), 200);
    assert_eq!(first.code, "RETRY");
    assert_eq!(other.code(), Code::AlreadyExists);
    assert_eq!(reason(&other), "ORDER_ALREADY_REDEEMED");
}

#[tokio::test]
async fn a_customer_may_hold_only_max_per_customer_redemptions() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    app.a_coupon(pb::CreateCouponRequest {
        max_per_customer: 1,
        ..coupon(r.id, "WELCOME10")
    })
    .await;
    let mut client = app.client();

    client
        .redeem_coupon(redeem(r.id, "WELCOME10", "order-1", "alice"))
        .await
        .expect("alice's first order");
    let again = client
        .redeem_coupon(redeem(r.id, "WELCOME10", "order-2", "alice"))
        .await
        .expect_err("alice has used hers");
    client
        .redeem_coupon(redeem(r.id, "WELCOME10", "order-3", "bob"))
        .await
        .expect("bob's first order");

    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "COUPON_CUSTOMER_LIMIT");
}

#[tokio::test]
async fn only_the_first_n_customers_may_redeem_and_they_may_come_back() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    app.a_coupon(pb::CreateCouponRequest {
        first_n_customers: 2,
        ..coupon(r.id, "ILK2")
    })
    .await;
    let mut client = app.client();
    client
        .redeem_coupon(redeem(r.id, "ILK2", "order-1", "alice"))
        .await
        .expect("first customer");
    client
        .redeem_coupon(redeem(r.id, "ILK2", "order-2", "bob"))
        .await
        .expect("second customer");
    client
        .release_coupon(pb::ReleaseCouponRequest {
            restaurant_id: r.id,
            order_ref: "order-2".to_owned(),
        })
        .await
        .expect("bob cancels");

    let third = client
        .redeem_coupon(redeem(r.id, "ILK2", "order-3", "carol"))
        .await
        .expect_err("carol is the third customer");
    client
        .redeem_coupon(redeem(r.id, "ILK2", "order-4", "alice"))
        .await
        .expect("alice is among the first two");

    assert_eq!(third.code(), Code::FailedPrecondition);
    assert_eq!(reason(&third), "COUPON_FIRST_CUSTOMERS_TAKEN");
}

#[tokio::test]
async fn a_percent_discount_rounds_down_and_a_fixed_one_stops_at_the_subtotal() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    app.a_coupon(pb::CreateCouponRequest {
        value: 1250,
        ..coupon(r.id, "EIGHTH")
    })
    .await;
    app.a_coupon(pb::CreateCouponRequest {
        kind: pb::DiscountKind::Fixed.into(),
        value: 500,
        ..coupon(r.id, "FIVE")
    })
    .await;
    let mut client = app.client();

    let percent = client
        .redeem_coupon(pb::RedeemCouponRequest {
            subtotal_minor: 999,
            ..redeem(r.id, "EIGHTH", "order-1", "alice")
        })
        .await
        .expect("redeemed")
        .into_inner();
    let fixed = client
        .redeem_coupon(pb::RedeemCouponRequest {
            subtotal_minor: 300,
            ..redeem(r.id, "FIVE", "order-2", "alice")
        })
        .await
        .expect("redeemed")
        .into_inner();

    assert_eq!(amount(&percent.discount), 124);
    assert_eq!(amount(&fixed.discount), 300);
}

#[tokio::test]
async fn coupon_codes_are_unique_per_restaurant_whatever_their_case() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let other = app.a_restaurant().await;
    let created = app.a_coupon(coupon(r.id, "save10")).await;

    let taken = app
        .client()
        .create_coupon(coupon(r.id, "SAVE10"))
        .await
        .expect_err("the code is taken");
    app.a_coupon(coupon(other.id, "SAVE10")).await;

    assert_eq!(created.code, "SAVE10");
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert_eq!(reason(&taken), "COUPON_CODE_TAKEN");
}

#[tokio::test]
async fn a_coupon_is_refused_outside_its_window_below_its_minimum_or_when_switched_off() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let at = |offset: i64| prost_types::Timestamp {
        seconds: i64::try_from(now).expect("fits") + offset,
        nanos: 0,
    };
    app.a_coupon(pb::CreateCouponRequest {
        valid_from: Some(at(3600)),
        ..coupon(r.id, "SOON")
    })
    .await;
    app.a_coupon(pb::CreateCouponRequest {
        valid_from: Some(at(-7200)),
        valid_until: Some(at(-3600)),
        ..coupon(r.id, "GONE")
    })
    .await;
    app.a_coupon(pb::CreateCouponRequest {
        min_order_minor: 2500,
        ..coupon(r.id, "BIG")
    })
    .await;
    let off = app.a_coupon(coupon(r.id, "OFF")).await;
    let mut client = app.client();
    client
        .update_coupon(pb::UpdateCouponRequest {
            restaurant_id: r.id,
            coupon_id: off.id,
            active: Some(false),
            ..Default::default()
        })
        .await
        .expect("switched off");

    for (code, expected) in [
        ("SOON", "COUPON_NOT_YET_VALID"),
        ("GONE", "COUPON_EXPIRED"),
        ("BIG", "COUPON_MIN_ORDER_NOT_MET"),
        ("OFF", "COUPON_INACTIVE"),
    ] {
        let refused = client
            .redeem_coupon(redeem(r.id, code, &format!("order-{code}"), "alice"))
            .await
            .expect_err("the coupon is refused");
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert_eq!(reason(&refused), expected, "{code}");
        let unchecked = client
            .check_coupon(check(r.id, code, 2000))
            .await
            .expect_err("a check refuses as a redemption does");
        assert_eq!(unchecked.code(), Code::FailedPrecondition);
        assert_eq!(reason(&unchecked), expected, "{code} checked");
    }
}

#[tokio::test]
async fn a_coupon_s_end_is_moved_kept_or_taken_away() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let until = |seconds: i64| prost_types::Timestamp { seconds, nanos: 0 };
    let c = app
        .a_coupon(pb::CreateCouponRequest {
            valid_until: Some(until(4_102_444_800)),
            ..coupon(r.id, "ENDS")
        })
        .await;
    let mut client = app.client();
    let patch = |valid_until, clear_valid_until| pb::UpdateCouponRequest {
        restaurant_id: r.id,
        coupon_id: c.id,
        valid_until,
        clear_valid_until,
        ..Default::default()
    };

    let moved = client
        .update_coupon(patch(Some(until(4_133_980_800)), false))
        .await
        .expect("moved")
        .into_inner();
    let kept = client
        .update_coupon(pb::UpdateCouponRequest {
            active: Some(false),
            ..patch(None, false)
        })
        .await
        .expect("kept")
        .into_inner();
    let both = client
        .update_coupon(patch(Some(until(4_133_980_800)), true))
        .await
        .expect_err("set and cleared");
    let cleared = client
        .update_coupon(patch(None, true))
        .await
        .expect("no end")
        .into_inner();

    assert_eq!(moved.valid_until.map(|t| t.seconds), Some(4_133_980_800));
    assert_eq!(kept.valid_until.map(|t| t.seconds), Some(4_133_980_800));
    assert_eq!(both.code(), Code::InvalidArgument);
    assert_eq!(fields(&both), ["valid_until"]);
    assert_eq!(cleared.valid_until, None);
}

fn check(restaurant_id: i64, code: &str, subtotal_minor: i64) -> pb::CheckCouponRequest {
    pb::CheckCouponRequest {
        restaurant_id,
        code: code.to_owned(),
        subtotal_minor,
    }
}

#[tokio::test]
async fn a_check_judges_the_coupon_wide_limits_and_takes_nothing() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    app.a_coupon(pb::CreateCouponRequest {
        max_redemptions: 2,
        max_per_customer: 1,
        ..coupon(r.id, "TWICE")
    })
    .await;
    let mut client = app.client();
    client
        .redeem_coupon(redeem(r.id, "TWICE", "order-1", "alice"))
        .await
        .expect("alice's first");

    // Alice may not use it again, but a check does not know who asks: the
    // redemption judges her.
    let checked = client
        .check_coupon(check(r.id, "twice", 2599))
        .await
        .expect("one redemption is left")
        .into_inner();
    let held_after_check = held(&app, r.id).await;
    client
        .redeem_coupon(redeem(r.id, "TWICE", "order-2", "bob"))
        .await
        .expect("bob takes the last");
    let exhausted = client
        .check_coupon(check(r.id, "TWICE", 2599))
        .await
        .expect_err("used up");
    let unknown = client
        .check_coupon(check(r.id, "NOPE", 2599))
        .await
        .expect_err("no such coupon");
    let invalid = client
        .check_coupon(check(r.id, "", -1))
        .await
        .expect_err("nothing to check");

    assert_eq!(checked.discount.as_ref().map(|m| m.amount_minor), Some(259));
    assert_eq!(
        checked.coupon.as_ref().map(|c| c.code.as_str()),
        Some("TWICE")
    );
    assert_eq!(held_after_check, 1);
    assert_eq!(reason(&exhausted), "COUPON_EXHAUSTED");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(reason(&unknown), "COUPON_NOT_FOUND");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(fields(&invalid), ["code", "subtotal_minor"]);
}

#[tokio::test]
async fn every_invalid_coupon_field_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let mut client = app.client();

    let refused = client
        .create_coupon(pb::CreateCouponRequest {
            restaurant_id: r.id,
            code: "no!".to_owned(),
            kind: pb::DiscountKind::Unspecified.into(),
            valid_from: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            valid_until: Some(prost_types::Timestamp {
                seconds: 1_900_000_000,
                nanos: 0,
            }),
            min_order_minor: -5,
            ..Default::default()
        })
        .await
        .expect_err("invalid coupon is refused");
    let bad_percent = client
        .create_coupon(pb::CreateCouponRequest {
            value: 10_001,
            ..coupon(r.id, "TOO-MUCH")
        })
        .await
        .expect_err("more than 100% is refused");
    let listed = client
        .list_coupons(pb::ListCouponsRequest {
            restaurant_id: r.id,
        })
        .await
        .expect("listed")
        .into_inner();

    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&refused),
        ["code", "kind", "valid_until", "min_order_minor"]
    );
    assert_eq!(fields(&bad_percent), ["value"]);
    assert!(listed.coupons.is_empty());
}
