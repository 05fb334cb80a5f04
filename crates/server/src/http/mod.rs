//! The HTTP API (`/v1`, axum). Transport types (camelCase JSON from `hearth_protocol::wire`, the
//! binary upload batch) are converted to domain calls at once; every error answer is an
//! `ErrorBody {code, message}` with a stable code and never internal error text.

mod body;
mod certificates;
pub mod console;
mod console_admin;
mod console_claims;
mod console_supervisor;
mod guard;
mod handlers;
mod kiosks;
mod limits;
mod photos;
mod serve;

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearth_protocol::ErrorBody;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use crate::domain::{Service, ServiceError};

pub use guard::Guard;
pub use limits::Limits;
pub use serve::serve;

/// An error answer: status, stable code, and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Retry-After` in seconds (`429`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            axum::Json(ErrorBody::new(self.code, self.message)),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        res
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(..) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(..) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(..) => StatusCode::CONFLICT,
            ServiceError::Gone(..) => StatusCode::GONE,
            ServiceError::Invalid(..) => StatusCode::BAD_REQUEST,
            ServiceError::Locked(..) => {
                let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.code(), e.to_string());
                e.retry_after = Some(15 * 60);
                return e;
            }
            ServiceError::Internal(text) => {
                tracing::error!(error = %text, "request failed inside the service");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the service could not complete the request; try again later",
                );
            }
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

#[derive(Clone, Debug)]
pub struct AppState {
    pub svc: Service,
    pub limits: Limits,
    pub guard: std::sync::Arc<Guard>,
    /// Turns to decode a large body (`Limits::max_decoding_at_once`).
    pub decoding: std::sync::Arc<Semaphore>,
    /// KiB of request bodies held at once (`Limits::max_buffered_bytes`).
    pub buffered: std::sync::Arc<Semaphore>,
}

/// Runs a storage-bound domain call off the async threads.
pub(crate) async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
{
    let svc = state.svc.clone();
    tokio::task::spawn_blocking(move || f(&svc))
        .await
        .map_err(|e| ApiError::from(ServiceError::Internal(e.to_string())))?
        .map_err(ApiError::from)
}

/// The router of the whole API.
pub fn router(svc: Service, limits: Limits) -> Router {
    router_with(svc, limits, std::sync::Arc::new(Guard::new(limits)))
}

/// The router, sharing `guard` with the connection loop.
pub(crate) fn router_with(svc: Service, limits: Limits, guard: std::sync::Arc<Guard>) -> Router {
    let state = AppState {
        svc,
        limits,
        guard: guard.clone(),
        decoding: std::sync::Arc::new(Semaphore::new(limits.max_decoding_at_once.max(1))),
        buffered: std::sync::Arc::new(Semaphore::new(
            (limits.max_buffered_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS),
        )),
    };
    let console_pages = state.svc.config.console_pages.clone();
    Router::new()
        .route("/v1/health", get(handlers::health))
        .route("/v1/openapi.json", get(handlers::openapi))
        .route("/v1/enroll", post(handlers::enroll))
        .route("/v1/anchor", get(handlers::anchor))
        .route("/v1/roster", get(handlers::roster))
        .route("/v1/sync/state", get(handlers::sync_state))
        .route("/v1/sync/receipts", post(handlers::upload))
        .route("/v1/sync/bundle", post(handlers::relay))
        .route("/v1/learners/{id}/record", get(handlers::learner_record))
        .route("/v1/classes/{id}/progress", get(handlers::class_progress))
        .route(
            "/v1/classes/{id}/assignments",
            get(handlers::class_assignments).post(handlers::assign),
        )
        .route("/v1/assignments", get(handlers::device_assignments))
        .route("/v1/admin/flags", get(handlers::admin_flags))
        .route("/v1/admin/revoke", post(handlers::admin_revoke))
        .route("/v1/admin/enrollment-codes", post(kiosks::issue_code))
        .route(
            "/v1/admin/devices/{id}/classes",
            get(kiosks::kiosk_classes).put(kiosks::set_kiosk_classes),
        )
        .route("/v1/auth/revoke", post(handlers::revoke_self))
        .route("/v1/catalog", get(handlers::catalog))
        .route(
            "/v1/courses/{course}/{version}/manifest",
            get(handlers::manifest),
        )
        .route("/v1/files/{sha256}", get(handlers::file))
        .merge(certificates::routes())
        .merge(console_supervisor::routes())
        .merge(console::routes(console_pages.as_deref()))
        // The administrator's and trainer's other console pages (same session and CSRF rules).
        .merge(console_admin::routes())
        .merge(console_claims::routes())
        // Photo checkpoints (issue #17): devices' sync and uploads, the console's audit requests.
        .merge(photos::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(guard, guard::limit))
        .with_state(state)
}

/// A service running in the background (tests, the end-to-end harness).
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }
}

/// Starts the service on an already bound listener (bind `127.0.0.1:0` in tests).
pub fn spawn(listener: TcpListener, svc: Service, limits: Limits) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, svc, limits, async move {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        stop: Some(tx),
        task,
    })
}
