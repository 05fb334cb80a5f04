//! Cached media over loopback HTTP, for Linux.
//!
//! WebKitGTK's media backend (GStreamer) cannot load `<video>`/`<audio>` from a custom URI scheme:
//! the element fails with MEDIA_ERR_SRC_NOT_SUPPORTED before any request reaches the scheme
//! handler (seen in our GUI test; upstream: tauri-apps/tauri#3725, WebKit bug 146351). Pictures
//! load fine through `hearth-media://`, and WebView2 and WKWebView play media from it. So on
//! Linux the app also serves the same answers ([`crate::media::serve`]: verified by hash, Range
//! and 206) on `http://127.0.0.1:PORT/TOKEN/SHA256`:
//!
//! - bound to 127.0.0.1 only, on a port the system picks;
//! - every path starts with a 128-bit random token made at start, so another local user or a
//!   web page cannot read the cache by guessing URLs (they would also need the content hash);
//! - it serves only content-addressed, verified course media, nothing else, and only GET/HEAD.
//!
//! Written on axum (already the service's HTTP stack) rather than by hand.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use axum::routing::get;
use tauri::{AppHandle, Manager, Runtime};

use crate::HearthState;

/// Where the UI finds media on this platform (managed state; empty: use the URI scheme).
#[derive(Clone, Debug, Default)]
pub struct MediaBase(pub String);

struct Served<R: Runtime> {
    app: AppHandle<R>,
    token: String,
}

// By hand: a derive would ask `R: Clone`, which runtimes are not; the handle itself is.
impl<R: Runtime> Clone for Served<R> {
    fn clone(&self) -> Self {
        Self {
            app: self.app.clone(),
            token: self.token.clone(),
        }
    }
}

fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| std::io::Error::other("no randomness for the media token"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn answer<R: Runtime>(
    State(s): State<Served<R>>,
    Path((token, sha)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response<Body> {
    // Both sides are 32 hex digits; a mismatch is refused without saying which part was wrong.
    if token.len() != s.token.len() || !ring_eq(token.as_bytes(), s.token.as_bytes()) {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .expect("a static response");
    }
    let mut request = Request::builder()
        .method(method.clone())
        .uri(format!("/{sha}"));
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let request = request.body(Vec::new()).expect("a valid request");
    let app = s.app.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let state = app.state::<HearthState>();
        crate::media::serve(&state, &request)
    })
    .await;
    match answer {
        Ok(r) => {
            let (parts, body) = r.into_parts();
            let body = if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(body)
            };
            Response::from_parts(parts, body)
        }
        Err(_) => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::empty())
            .expect("a static response"),
    }
}

/// Compares in time independent of where the first difference is.
fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Starts the server on the app's async runtime; returns the base URL the UI puts before a hash.
pub fn start<R: Runtime>(app: &AppHandle<R>) -> std::io::Result<MediaBase> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let token = random_token()?;
    let base = format!("http://127.0.0.1:{port}/{token}/");
    let router = axum::Router::new()
        .route("/{token}/{sha}", get(answer::<R>))
        .with_state(Served {
            app: app.clone(),
            token,
        });
    tauri::async_runtime::spawn(async move {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => {
                if let Err(e) = axum::serve(l, router).await {
                    tracing::error!(error = %e, "the media server stopped");
                }
            }
            Err(e) => tracing::error!(error = %e, "the media server could not start"),
        }
    });
    tracing::info!(port, "media served on loopback");
    Ok(MediaBase(base))
}

#[cfg(test)]
mod tests {
    use super::ring_eq;

    #[test]
    fn token_comparison() {
        assert!(ring_eq(b"abcd", b"abcd"));
        assert!(!ring_eq(b"abcd", b"abce"));
        assert!(!ring_eq(b"abc", b"abcd"));
    }
}
