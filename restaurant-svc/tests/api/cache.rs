//! The menu cache across replicas, and `WatchMenuChanges`: a change made
//! anywhere — another replica, this one, plain SQL — reaches every cached
//! menu, and every replica's pricing, which answers from the same cache
//! under the same rules.
//!
//! Notices travel asynchronously, so what another process changed is
//! awaited with a deadline ([`eventually`]); what this replica changed
//! must show at once.

use std::future::Future;
use std::time::Duration;

use foodmesh_proto::restaurant::v1 as pb;
use pb::menu_change::Event;
use tokio::time::Instant;
use tonic::{Code, Streaming};

use crate::helpers::{
    Client, TestApp, amount, fields, menu_cache_hits, price_line, pricing_cache_hits, reason,
    spawn_app, with_option_off,
};

/// How long a notice may take before a test gives up on it.
const WITHIN: Duration = Duration::from_secs(10);

/// Polls `probe` every 20 ms until it finds something; panics naming
/// `what` after [`WITHIN`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WITHIN;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn menu(client: &mut Client, restaurant_id: i64) -> Result<pb::Menu, tonic::Status> {
    client
        .get_menu(pb::GetMenuRequest {
            restaurant_id,
            include_unavailable: false,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The price of `item_id` on the public menu; `None` when it is not on it.
async fn price(client: &mut Client, restaurant_id: i64, item_id: i64) -> Option<i64> {
    let menu = menu(client, restaurant_id).await.expect("menu is read");
    menu.items
        .iter()
        .find(|i| i.id == item_id)
        .map(|i| amount(&i.price))
}

/// Reads the menu on `client` until a read is answered from the cache (its
/// instance listens for changes): what a test then changes was cached.
async fn until_cached(client: &mut Client, restaurant_id: i64) {
    eventually("a menu read answered from the cache", || {
        let mut client = client.clone();
        async move {
            let before = menu_cache_hits();
            menu(&mut client, restaurant_id)
                .await
                .expect("menu is read");
            menu(&mut client, restaurant_id)
                .await
                .expect("menu is read");
            (menu_cache_hits() > before).then_some(())
        }
    })
    .await;
}

async fn set_price(client: &mut Client, restaurant_id: i64, item_id: i64, price_minor: i64) {
    client
        .update_menu_item(pb::UpdateMenuItemRequest {
            restaurant_id,
            item_id,
            price_minor: Some(price_minor),
            ..Default::default()
        })
        .await
        .expect("price is changed");
}

async fn watch(client: &mut Client) -> Streaming<pb::MenuChange> {
    client
        .watch_menu_changes(pb::WatchMenuChangesRequest {})
        .await
        .expect("the watch opens")
        .into_inner()
}

/// The next message's event, within [`WITHIN`]; `None` once the stream
/// ended.
async fn next(changes: &mut Streaming<pb::MenuChange>) -> Result<Option<Event>, tonic::Status> {
    let message = tokio::time::timeout(WITHIN, changes.message())
        .await
        .expect("a message within the deadline")?;
    Ok(message.map(|m| m.event.expect("every message has an event")))
}

/// Reads changes until one names `restaurant_id`.
async fn until_told(changes: &mut Streaming<pb::MenuChange>, restaurant_id: i64) {
    loop {
        match next(changes).await {
            Ok(Some(Event::RestaurantId(id))) if id == restaurant_id => return,
            Ok(Some(Event::RestaurantId(_))) => {}
            other => panic!("expected restaurant {restaurant_id}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_price_changed_on_one_replica_reaches_the_other_s_cached_menu() {
    let app = spawn_app().await;
    let other = app.replica().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut on_other = other.client();
    until_cached(&mut on_other, r.id).await;

    set_price(&mut app.client(), r.id, item.id, 1499).await;

    eventually("the new price on the other replica", || {
        let mut on_other = on_other.clone();
        async move { (price(&mut on_other, r.id, item.id).await == Some(1499)).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn a_replica_reads_its_own_menu_changes_at_once() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();
    until_cached(&mut client, r.id).await;

    set_price(&mut client, r.id, item.id, 1499).await;
    assert_eq!(price(&mut client, r.id, item.id).await, Some(1499));

    client
        .update_menu_item(pb::UpdateMenuItemRequest {
            restaurant_id: r.id,
            item_id: item.id,
            available: Some(false),
            ..Default::default()
        })
        .await
        .expect("item is marked sold out");
    assert_eq!(price(&mut client, r.id, item.id).await, None);

    let added = app.an_item(r.id, "Calzone", 1099, &[]).await;
    assert_eq!(price(&mut client, r.id, added.id).await, Some(1099));

    client
        .update_restaurant(pb::UpdateRestaurantRequest {
            id: r.id,
            patch: Some(pb::RestaurantPatch {
                currency: Some("EUR".to_owned()),
                ..Default::default()
            }),
        })
        .await
        .expect("currency is changed");
    let menu_now = menu(&mut client, r.id).await.expect("menu is read");
    assert_eq!(menu_now.currency, "EUR");

    client
        .delete_restaurant(pb::DeleteRestaurantRequest { id: r.id })
        .await
        .expect("restaurant is deleted");
    let gone = menu(&mut client, r.id).await.expect_err("no menu any more");
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn a_change_made_in_sql_past_the_service_reaches_the_cached_menu() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let group = app
        .a_group(r.id, "Toppings", (0, 2), &[("Cheese", 150)])
        .await;
    let item = app.an_item(r.id, "Margherita", 1299, &[group.id]).await;
    let mut client = app.client();
    until_cached(&mut client, r.id).await;
    let pool = app.db_pool().await;

    sqlx::query("UPDATE menu_items SET price_minor = 1599 WHERE id = $1")
        .bind(item.id)
        .execute(&pool)
        .await
        .expect("price is changed in SQL");
    eventually("the price changed in SQL", || {
        let mut client = client.clone();
        async move { (price(&mut client, r.id, item.id).await == Some(1599)).then_some(()) }
    })
    .await;

    // Options name their restaurant only through their group.
    until_cached(&mut client, r.id).await;
    sqlx::query("UPDATE options SET price_delta_minor = 175 WHERE option_group_id = $1")
        .bind(group.id)
        .execute(&pool)
        .await
        .expect("option is changed in SQL");
    eventually("the option's delta changed in SQL", || {
        let mut client = client.clone();
        async move {
            let menu = menu(&mut client, r.id).await.expect("menu is read");
            let delta = amount(&menu.option_groups[0].options[0].price_delta);
            (delta == 175).then_some(())
        }
    })
    .await;
    pool.close().await;
}

/// Changes a price in SQL without announcing it: triggers do not fire for
/// a session in replica mode, so a cached menu stays as it was.
async fn change_price_silently(app: &TestApp, item_id: i64, price_minor: i64) {
    let pool = app.db_pool().await;
    let mut conn = pool.acquire().await.expect("connection");
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .expect("replica mode");
    sqlx::query("UPDATE menu_items SET price_minor = $2 WHERE id = $1")
        .bind(item_id)
        .bind(price_minor)
        .execute(&mut *conn)
        .await
        .expect("price is changed silently");
    drop(conn);
    pool.close().await;
}

#[tokio::test]
async fn a_no_cache_read_comes_from_the_database_and_refreshes_the_cache() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();
    until_cached(&mut client, r.id).await;
    change_price_silently(&app, item.id, 1599).await;

    let mut request = tonic::Request::new(pb::GetMenuRequest {
        restaurant_id: r.id,
        include_unavailable: false,
    });
    request
        .metadata_mut()
        .insert("cache-control", "no-cache".parse().expect("ascii"));
    let fresh = client
        .get_menu(request)
        .await
        .expect("menu is read")
        .into_inner();

    assert_eq!(amount(&fresh.items[0].price), 1599);
    assert_eq!(price(&mut client, r.id, item.id).await, Some(1599));
}

#[tokio::test]
async fn a_menu_watch_says_subscribed_first_then_names_each_changed_restaurant() {
    let app = spawn_app().await;
    let other = app.replica().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut changes = watch(&mut app.client()).await;

    assert!(
        matches!(next(&mut changes).await, Ok(Some(Event::Subscribed(_)))),
        "subscribed comes first"
    );

    // Made through the other replica: one stream tells of every change.
    set_price(&mut other.client(), r.id, item.id, 1499).await;
    until_told(&mut changes, r.id).await;

    let second = app
        .create_restaurant(crate::helpers::restaurant_input("Sushi Bar"))
        .await;
    until_told(&mut changes, second.id).await;

    other
        .client()
        .delete_restaurant(pb::DeleteRestaurantRequest { id: r.id })
        .await
        .expect("restaurant is deleted");
    until_told(&mut changes, r.id).await;
}

#[tokio::test]
async fn a_lost_feed_connection_ends_watches_with_a_gap_and_the_cache_comes_back() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();
    let mut changes = watch(&mut client).await;
    assert!(matches!(
        next(&mut changes).await,
        Ok(Some(Event::Subscribed(_)))
    ));
    let pool = app.db_pool().await;

    let killed: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&pool)
    .await
    .expect("listener found");
    assert_eq!(killed.len(), 1, "one listening connection");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(killed[0])
        .execute(&pool)
        .await
        .expect("listener killed");

    // Notices of the setup's own commits may still arrive first.
    let told = loop {
        match next(&mut changes).await {
            Ok(Some(Event::RestaurantId(_))) => {}
            result => break result,
        }
    };
    assert!(matches!(told, Ok(Some(Event::Gap(_)))), "a gap is told");
    assert!(
        matches!(next(&mut changes).await, Ok(None)),
        "then the watch ends"
    );

    // Watching again is subscribed once the feed listens again, and hears
    // changes as before; the cache serves again.
    let mut again = watch(&mut client).await;
    assert!(matches!(
        next(&mut again).await,
        Ok(Some(Event::Subscribed(_)))
    ));
    until_cached(&mut client, r.id).await;
    sqlx::query("UPDATE menu_items SET price_minor = 1599 WHERE id = $1")
        .bind(item.id)
        .execute(&pool)
        .await
        .expect("price is changed in SQL");
    until_told(&mut again, r.id).await;
    eventually("the price changed after the reconnection", || {
        let mut client = client.clone();
        async move { (price(&mut client, r.id, item.id).await == Some(1599)).then_some(()) }
    })
    .await;
    pool.close().await;
}

#[tokio::test]
async fn a_menu_watch_ends_unavailable_when_its_replica_shuts_down() {
    let app = spawn_app().await;
    let other = app.replica().await;
    let mut changes = watch(&mut other.client()).await;
    assert!(matches!(
        next(&mut changes).await,
        Ok(Some(Event::Subscribed(_)))
    ));

    other.stop();

    let ended = loop {
        match next(&mut changes).await {
            Ok(Some(Event::RestaurantId(_))) => {}
            result => break result,
        }
    };
    let status = ended.expect_err("the watch ends with an error");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

// ----- pricing -------------------------------------------------------------

async fn price_order(
    client: &mut Client,
    restaurant_id: i64,
    lines: Vec<pb::PriceLineRequest>,
) -> Result<pb::PricedOrder, tonic::Status> {
    client
        .price_order(pb::PriceOrderRequest {
            restaurant_id,
            lines,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The subtotal of one `item_id` with `options`, or the refusal.
async fn subtotal(
    client: &mut Client,
    restaurant_id: i64,
    item_id: i64,
    options: &[i64],
) -> Result<i64, tonic::Status> {
    let lines = vec![price_line(item_id, 1, options)];
    let priced = price_order(client, restaurant_id, lines).await?;
    Ok(amount(&priced.subtotal))
}

/// Prices `item_id` on `client` until a call is answered from the cache
/// (its instance listens for changes): what a test then changes was
/// cached for pricing. Refusals count too: they are priced from the
/// inputs the cache holds.
async fn until_pricing_cached(client: &mut Client, restaurant_id: i64, item_id: i64) {
    eventually("an order priced from the cache", || {
        let mut client = client.clone();
        async move {
            let before = pricing_cache_hits();
            let _ = subtotal(&mut client, restaurant_id, item_id, &[]).await;
            let _ = subtotal(&mut client, restaurant_id, item_id, &[]).await;
            (pricing_cache_hits() > before).then_some(())
        }
    })
    .await;
}

/// Asserts that `refused` is a refusal with `code` and the reason `why`,
/// naming `field`.
fn assert_refused(refused: Result<i64, tonic::Status>, code: Code, why: &str, field: &str) {
    let status = refused.expect_err(why);
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), why);
    assert_eq!(fields(&status), [field]);
}

async fn set_available(client: &mut Client, restaurant_id: i64, item_id: i64, available: bool) {
    client
        .update_menu_item(pb::UpdateMenuItemRequest {
            restaurant_id,
            item_id,
            available: Some(available),
            ..Default::default()
        })
        .await
        .expect("availability is changed");
}

async fn patch_restaurant(client: &mut Client, id: i64, patch: pb::RestaurantPatch) {
    client
        .update_restaurant(pb::UpdateRestaurantRequest {
            id,
            patch: Some(patch),
        })
        .await
        .expect("restaurant is changed");
}

/// Stops every table's triggers announcing changes, so a change made
/// through a replica reaches its cache only by its own eviction.
async fn silence_notices(app: &TestApp) {
    let pool = app.db_pool().await;
    for statement in [
        "ALTER TABLE restaurants DISABLE TRIGGER USER",
        "ALTER TABLE categories DISABLE TRIGGER USER",
        "ALTER TABLE menu_items DISABLE TRIGGER USER",
        "ALTER TABLE option_groups DISABLE TRIGGER USER",
        "ALTER TABLE options DISABLE TRIGGER USER",
        "ALTER TABLE menu_item_option_groups DISABLE TRIGGER USER",
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect("the table's triggers are disabled");
    }
    pool.close().await;
}

#[tokio::test]
async fn orders_are_priced_from_the_cache() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();

    until_pricing_cached(&mut client, r.id, item.id).await;
    let before = pricing_cache_hits();
    let priced = subtotal(&mut client, r.id, item.id, &[]).await;

    assert_eq!(priced.expect("order is priced"), 1299);
    assert_eq!(pricing_cache_hits(), before + 1);
}

#[tokio::test]
async fn a_replica_prices_its_own_changes_at_once() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let size = app
        .a_group(r.id, "Size", (0, 1), &[("Small", -100), ("Large", 200)])
        .await;
    let large = size.options[1].id;
    let item = app.an_item(r.id, "Margherita", 1299, &[size.id]).await;
    let mut client = app.client();
    // A notice could beat the next call; without any, only the replica's
    // eviction after its own commit shows the change.
    silence_notices(&app).await;

    until_pricing_cached(&mut client, r.id, item.id).await;
    set_price(&mut client, r.id, item.id, 1499).await;
    let priced = subtotal(&mut client, r.id, item.id, &[large]).await;
    assert_eq!(priced.expect("order is priced"), 1699);

    until_pricing_cached(&mut client, r.id, item.id).await;
    let added = app.an_item(r.id, "Calzone", 1099, &[]).await;
    let priced = subtotal(&mut client, r.id, added.id, &[]).await;
    assert_eq!(priced.expect("the new item is priced"), 1099);

    until_pricing_cached(&mut client, r.id, item.id).await;
    patch_restaurant(
        &mut client,
        r.id,
        pb::RestaurantPatch {
            name: Some("Pizza Piazza".to_owned()),
            delivery_fee_minor: Some(499),
            ..Default::default()
        },
    )
    .await;
    let priced = price_order(&mut client, r.id, vec![price_line(item.id, 1, &[])])
        .await
        .expect("order is priced");
    assert_eq!(priced.restaurant_name, "Pizza Piazza");
    assert_eq!(amount(&priced.delivery_fee), 499);

    until_pricing_cached(&mut client, r.id, item.id).await;
    client
        .update_option_group(with_option_off(r.id, &size, large))
        .await
        .expect("large is taken off");
    assert_refused(
        subtotal(&mut client, r.id, item.id, &[large]).await,
        Code::FailedPrecondition,
        "OPTION_UNAVAILABLE",
        "lines[0].option_ids[0]",
    );

    until_pricing_cached(&mut client, r.id, item.id).await;
    set_available(&mut client, r.id, item.id, false).await;
    assert_refused(
        subtotal(&mut client, r.id, item.id, &[]).await,
        Code::FailedPrecondition,
        "ITEM_UNAVAILABLE",
        "lines[0].menu_item_id",
    );

    until_pricing_cached(&mut client, r.id, item.id).await;
    client
        .delete_menu_item(pb::DeleteMenuItemRequest {
            restaurant_id: r.id,
            item_id: added.id,
        })
        .await
        .expect("item is deleted");
    assert_refused(
        subtotal(&mut client, r.id, added.id, &[]).await,
        Code::InvalidArgument,
        "MENU_ITEM_NOT_FOUND",
        "lines[0].menu_item_id",
    );

    set_available(&mut client, r.id, item.id, true).await;
    until_pricing_cached(&mut client, r.id, item.id).await;
    let closed = pb::RestaurantPatch {
        active: Some(false),
        ..Default::default()
    };
    patch_restaurant(&mut client, r.id, closed).await;
    let refused = subtotal(&mut client, r.id, item.id, &[]).await;
    let status = refused.expect_err("a closed restaurant takes no orders");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "RESTAURANT_INACTIVE");

    until_pricing_cached(&mut client, r.id, item.id).await;
    client
        .delete_restaurant(pb::DeleteRestaurantRequest { id: r.id })
        .await
        .expect("restaurant is deleted");
    let gone = subtotal(&mut client, r.id, item.id, &[]).await;
    let status = gone.expect_err("a deleted restaurant prices nothing");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "RESTAURANT_NOT_FOUND");
}

#[tokio::test]
async fn a_change_on_one_replica_reaches_the_other_s_pricing() {
    let app = spawn_app().await;
    let other = app.replica().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut on_other = other.client();
    until_pricing_cached(&mut on_other, r.id, item.id).await;

    set_price(&mut app.client(), r.id, item.id, 1499).await;

    eventually("the new price in the other replica's pricing", || {
        let mut on_other = on_other.clone();
        async move {
            (subtotal(&mut on_other, r.id, item.id, &[]).await.ok() == Some(1499)).then_some(())
        }
    })
    .await;

    until_pricing_cached(&mut on_other, r.id, item.id).await;
    set_available(&mut app.client(), r.id, item.id, false).await;

    let refused = eventually("the item refused by the other replica", || {
        let mut on_other = on_other.clone();
        async move { subtotal(&mut on_other, r.id, item.id, &[]).await.err() }
    })
    .await;
    assert_refused(
        Err(refused),
        Code::FailedPrecondition,
        "ITEM_UNAVAILABLE",
        "lines[0].menu_item_id",
    );
}

#[tokio::test]
async fn a_change_made_in_sql_past_the_service_reaches_pricing() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let toppings = app
        .a_group(r.id, "Toppings", (0, 2), &[("Cheese", 150)])
        .await;
    let cheese = toppings.options[0].id;
    let item = app.an_item(r.id, "Margherita", 1299, &[toppings.id]).await;
    let mut client = app.client();
    let pool = app.db_pool().await;
    // Each change, made on the row with id $1, until pricing the item with
    // cheese answers its subtotal or refusal.
    let changes: [(&str, i64, Result<i64, &str>); 4] = [
        (
            "UPDATE menu_items SET price_minor = 1599 WHERE id = $1",
            item.id,
            Ok(1599 + 150),
        ),
        // Options name their restaurant only through their group.
        (
            "UPDATE options SET price_delta_minor = 175 WHERE option_group_id = $1",
            toppings.id,
            Ok(1599 + 175),
        ),
        // Links name it through their item.
        (
            "DELETE FROM menu_item_option_groups WHERE menu_item_id = $1",
            item.id,
            Err("OPTION_NOT_OFFERED"),
        ),
        (
            "UPDATE menu_items SET available = FALSE WHERE id = $1",
            item.id,
            Err("ITEM_UNAVAILABLE"),
        ),
    ];

    for (sql, id, expected) in changes {
        until_pricing_cached(&mut client, r.id, item.id).await;
        sqlx::query(sql)
            .bind(id)
            .execute(&pool)
            .await
            .expect("the change is made in SQL");
        eventually(sql, || {
            let mut client = client.clone();
            async move {
                let priced = subtotal(&mut client, r.id, item.id, &[cheese]).await;
                let answer = priced.map_err(|status| reason(&status));
                (answer == expected.map_err(str::to_owned)).then_some(())
            }
        })
        .await;
    }
    pool.close().await;
}

#[tokio::test]
async fn a_restaurant_changed_in_sql_reaches_pricing() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();
    let pool = app.db_pool().await;
    until_pricing_cached(&mut client, r.id, item.id).await;

    sqlx::query(
        "UPDATE restaurants SET delivery_fee_minor = 499, tax_rate_ppm = 700 WHERE id = $1",
    )
    .bind(r.id)
    .execute(&pool)
    .await
    .expect("the fee is changed in SQL");

    eventually("the fee changed in SQL", || {
        let mut client = client.clone();
        async move {
            let lines = vec![price_line(item.id, 1, &[])];
            let priced = price_order(&mut client, r.id, lines).await.expect("priced");
            (amount(&priced.delivery_fee) == 499 && priced.tax_rate_ppm == 700).then_some(())
        }
    })
    .await;
    pool.close().await;
}

#[tokio::test]
async fn pricing_answers_from_memory_until_a_notice() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();
    until_pricing_cached(&mut client, r.id, item.id).await;
    change_price_silently(&app, item.id, 1599).await;

    let unannounced = subtotal(&mut client, r.id, item.id, &[]).await;
    let pool = app.db_pool().await;
    sqlx::query("UPDATE menu_items SET updated_at = now() WHERE id = $1")
        .bind(item.id)
        .execute(&pool)
        .await
        .expect("a change is announced");

    assert_eq!(
        unannounced.expect("order is priced"),
        1299,
        "from the cache"
    );
    eventually("the price once a notice came", || {
        let mut client = client.clone();
        async move { (subtotal(&mut client, r.id, item.id, &[]).await.ok() == Some(1599)).then_some(()) }
    })
    .await;
    pool.close().await;
}

#[tokio::test]
async fn a_lost_feed_connection_empties_the_pricing_cache() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();
    until_pricing_cached(&mut client, r.id, item.id).await;
    // No notice will tell of this change: only emptying the cache when the
    // feed's connection is lost brings it to pricing.
    change_price_silently(&app, item.id, 1599).await;
    let pool = app.db_pool().await;

    let listener: i32 = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&pool)
    .await
    .expect("listener found");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(listener)
        .execute(&pool)
        .await
        .expect("listener killed");

    eventually("the unannounced price after the lost connection", || {
        let mut client = client.clone();
        async move { (subtotal(&mut client, r.id, item.id, &[]).await.ok() == Some(1599)).then_some(()) }
    })
    .await;
    // Cached again once the feed listens again, and kept in step.
    until_pricing_cached(&mut client, r.id, item.id).await;
    sqlx::query("UPDATE menu_items SET price_minor = 1699 WHERE id = $1")
        .bind(item.id)
        .execute(&pool)
        .await
        .expect("price is changed in SQL");
    eventually("the price changed after the reconnection", || {
        let mut client = client.clone();
        async move { (subtotal(&mut client, r.id, item.id, &[]).await.ok() == Some(1699)).then_some(()) }
    })
    .await;
    pool.close().await;
}
