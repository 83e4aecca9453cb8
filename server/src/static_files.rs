//! The built app, with the caching that offline start depends on: the page and the service
//! worker are revalidated on every load so a new build is found at once; content-hashed files
//! never change, so browsers may keep them forever. Brotli copies are sent when accepted.

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, header};
use axum::middleware::{self, Next};
use tower_http::services::ServeDir;

pub fn service(dist: &Path) -> Router {
    Router::new().fallback_service(ServeDir::new(dist).precompressed_br()).layer(middleware::from_fn(cache_headers))
}

async fn cache_headers(request: Request<Body>, next: Next) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let policy = if is_content_hashed(&path) { "public, max-age=31536000, immutable" } else { "no-cache" };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

/// `/app-0123456789abcdef.wasm` and the like, as `cargo xtask dist` names them.
fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    let stem = name.split('.').next().unwrap_or("");
    stem.rsplit_once('-').is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn recognises_hashed_names() {
        assert!(super::is_content_hashed("/app-0123456789abcdef.wasm"));
        assert!(super::is_content_hashed("/style-0123456789abcdef.css"));
        assert!(!super::is_content_hashed("/sw.js"));
        assert!(!super::is_content_hashed("/"));
        assert!(!super::is_content_hashed("/app-123.js"));
    }
}
