//! The task that keeps the gateway's [`MenuCache`] correct: it follows
//! restaurant-svc's `WatchMenuChanges` stream, enabling the cache once the
//! stream is subscribed, evicting each restaurant whose menu changed, and
//! disabling it on a gap, an error or the end of the stream before
//! watching again after a backoff. The rules it serves are in
//! [`crate::menu_cache`]'s documentation. It sits above [`crate::upstream`],
//! whose client it calls, so the cache itself depends on neither.

use std::time::Duration;

use foodmesh_proto::restaurant::v1 as pb;
use pb::menu_change::Event;
use tokio_util::sync::CancellationToken;

use crate::menu_cache::MenuCache;
use crate::upstream::Restaurants;

/// The first wait before watching again after a stream failed or ended.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between attempts while restaurant-svc keeps failing.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Keeps the cache of `restaurants` in step with restaurant-svc's change
/// stream, reconnecting, until `stop` is cancelled; the cache is then left
/// disabled.
pub async fn follow(restaurants: Restaurants, stop: CancellationToken) {
    // Disabled however this ends, a dropped task included: with nothing
    // evicting, nothing may be served.
    let cache = DisableOnDrop(restaurants.menus().clone());
    let mut backoff = BACKOFF_MIN;
    loop {
        let Some((subscribed, ended)) = stop
            .run_until_cancelled(follow_stream(&restaurants, &cache.0))
            .await
        else {
            return;
        };
        cache.0.disable();
        match ended {
            Ended::Gap => tracing::info!("menu changes may have been missed; watching again"),
            Ended::Closed => tracing::info!("menu change stream ended; watching again"),
            Ended::Failed(status) => tracing::warn!(
                code = ?status.code(),
                message = status.message(),
                "menu change stream failed; the menu cache is off until it is back"
            ),
            Ended::Unexpected => {
                tracing::warn!("menu change stream broke its contract; watching again");
            }
        }
        if subscribed {
            backoff = BACKOFF_MIN;
        }
        if stop
            .run_until_cancelled(tokio::time::sleep(backoff))
            .await
            .is_none()
        {
            return;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Why one change stream was left.
enum Ended {
    /// Changes may have been missed.
    Gap,
    /// restaurant-svc ended the stream.
    Closed,
    /// The stream could not be opened, or failed (UNAVAILABLE when the
    /// replica shuts down).
    Failed(tonic::Status),
    /// A message out of order, or of a kind this gateway does not know.
    Unexpected,
}

/// Follows one stream until it ends; says whether it was subscribed.
async fn follow_stream(restaurants: &Restaurants, cache: &MenuCache) -> (bool, Ended) {
    let mut stream = match restaurants
        .watch_menu_changes(pb::WatchMenuChangesRequest {})
        .await
    {
        Ok(stream) => stream,
        Err(e) => return (false, Ended::Failed(e.status)),
    };
    let mut subscribed = false;
    loop {
        let event = match stream.message().await {
            Ok(Some(change)) => change.event,
            Ok(None) => return (subscribed, Ended::Closed),
            Err(status) => return (subscribed, Ended::Failed(status)),
        };
        match event {
            Some(Event::Subscribed(_)) if !subscribed => {
                // Anything held from before may have missed a change.
                cache.enable();
                subscribed = true;
            }
            Some(Event::RestaurantId(id)) if subscribed => cache.evict(id),
            Some(Event::Gap(_)) => return (subscribed, Ended::Gap),
            _ => return (subscribed, Ended::Unexpected),
        }
    }
}

struct DisableOnDrop(MenuCache);

impl Drop for DisableOnDrop {
    fn drop(&mut self) {
        self.0.disable();
    }
}
