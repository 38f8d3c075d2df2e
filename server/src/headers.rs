//! Security headers on every response: a Content-Security-Policy whose script nonce is new for
//! each response (Leptos puts it on its hydration script, so no inline script runs without it),
//! no framing, no MIME sniffing, a same-origin referrer, and HSTS when served over https.
//!
//! The nonce is made here, before the page renders, and travels to the Leptos render in the
//! request's extensions (`nonce_from_request`, the routes' additional context).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};

use crate::AppState;

/// The policy for a response whose inline scripts carry `nonce`. `'strict-dynamic'` lets the
/// nonced hydration script load the wasm bundle's module; `'wasm-unsafe-eval'` lets it compile
/// the WebAssembly (and nothing else: no `eval`). Styles are the stylesheet's only.
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'strict-dynamic' \
         'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the security headers; HTML pages also get `Cache-Control: no-store`, so a page (and
/// its nonce) is never served twice from a cache.
pub async fn secure(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // A WebSocket upgrade renders no page: no nonce (random bytes and a formatted policy on
    // every connect) for it.
    let nonce = (!request.headers().contains_key(header::UPGRADE)).then(Nonce::new);
    if let Some(nonce) = &nonce {
        request.extensions_mut().insert(nonce.clone());
    }
    let https = crate::auth::is_https(&state, request.headers());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(nonce) = nonce
        && let Ok(value) = HeaderValue::from_str(&policy(&nonce))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if is_html && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The Leptos render's additional context: the nonce made for this request by [`secure`],
/// replacing the one leptos_axum made (which no header would name).
pub fn nonce_from_request() {
    if let Some(nonce) = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Nonce>().cloned())
    {
        provide_context(nonce);
    }
}
