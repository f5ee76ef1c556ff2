//! The web pages: the storefront at `/`, the kitchen display at `/kitchen`
//! and the restaurant admin at `/admin`, with their scripts and styles
//! under `/ui/`. Plain HTML, CSS and ES modules from `gateway/ui/`, built
//! into the binary, so a gateway serves them with nothing to install and
//! nothing fetched from elsewhere; they use the public REST API and its
//! live streams like any other client.

use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// What the pages may load and call: this origin only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../ui/", $name)),
        }
    };
}

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("kitchen.html", "text/html; charset=utf-8"),
    asset!("admin.html", "text/html; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("store.js", "text/javascript; charset=utf-8"),
    asset!("kitchen.js", "text/javascript; charset=utf-8"),
    asset!("admin.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("store.css", "text/css; charset=utf-8"),
    asset!("kitchen.css", "text/css; charset=utf-8"),
    asset!("admin.css", "text/css; charset=utf-8"),
];

/// Each asset's entity tag: a hash of its bytes, so a browser revalidates
/// cheaply and sees a new build at once.
static TAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            asset.body.hash(&mut hasher);
            HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish()))
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
        })
        .collect()
});

/// The pages' routes, to merge into the gateway's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move { page("index.html", &headers) }),
        )
        .route(
            "/kitchen",
            get(|headers: HeaderMap| async move { page("kitchen.html", &headers) }),
        )
        .route(
            "/admin",
            get(|headers: HeaderMap| async move { page("admin.html", &headers) }),
        )
        .route(
            "/ui/{name}",
            get(
                |Path(name): Path<String>, headers: HeaderMap| async move { page(&name, &headers) },
            ),
        )
}

/// The asset `name`, a 304 when the browser has it already, or a bare 404
/// (made a problem by the stack).
fn page(name: &str, headers: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let asset = &ASSETS[index];
    let tag = TAGS[index].clone();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|seen| seen.to_str().ok())
        .is_some_and(|seen| matches_tag(seen, &tag));
    let common = [
        (header::ETAG, tag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    )];
    (common, content_type, asset.body).into_response()
}

/// Whether an `If-None-Match` list names `tag`: `*`, or the tag itself,
/// weak (`W/"..."`, as a compressing proxy makes it) or strong.
fn matches_tag(seen: &str, tag: &HeaderValue) -> bool {
    let tag = tag.to_str().unwrap_or_default();
    seen.split(',')
        .map(str::trim)
        .any(|entry| entry == "*" || entry.strip_prefix("W/").unwrap_or(entry) == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_and_asset_is_served_with_its_type_and_this_origin_only() {
        for name in [
            "index.html",
            "kitchen.html",
            "admin.html",
            "api.js",
            "style.css",
        ] {
            let response = page(name, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            let headers = response.headers();
            assert!(
                headers[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap_or_default()
                    .starts_with("default-src 'self'")
            );
            if name.ends_with(".html") {
                assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
            }
        }
        assert_eq!(
            page("../Cargo.toml", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_browser_with_the_current_asset_gets_a_304() {
        let first = page("api.js", &HeaderMap::new());
        let tag = first.headers()[header::ETAG].clone();
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(page("api.js", &headers).status(), StatusCode::NOT_MODIFIED);
        let tag = first.headers()[header::ETAG]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        for list in [format!("\"other\", W/{tag}"), "*".to_owned()] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(&list).expect("a header value"),
            );
            assert_eq!(
                page("api.js", &headers).status(),
                StatusCode::NOT_MODIFIED,
                "{list}"
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(page("api.js", &headers).status(), StatusCode::OK);
    }

    #[test]
    fn the_pages_load_nothing_from_another_origin() {
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            for foreign in ["http://", "https://", "//cdn", "<script>", " style=\""] {
                assert!(
                    !text.contains(foreign),
                    "{} contains {foreign:?}",
                    asset.name
                );
            }
        }
    }
}
