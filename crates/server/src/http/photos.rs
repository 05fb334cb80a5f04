//! Photo checkpoints over HTTP (issue #17 item 2, docs/privacy.md): what a device learns when it
//! syncs (`GET /v1/photos`), its uploads for an audit request, and the console's requests and
//! views (an administrator of the learner's organisation, a supervisor of its region; same
//! session and CSRF rules as the rest of the console).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use hearth_protocol::photo::{MAX_PHOTO_BYTES, SEAL_OVERHEAD};
use hearth_protocol::wire::{PhotoStateJson, PhotoUploadAnswer};
use hearth_protocol::{LearnerId, ReceiptId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::body::{DeviceAuth, JsonBody};
use super::console::Person;
use super::{ApiError, AppState, blocking};
use crate::domain::ServiceError;
use crate::domain::photos::RequestView;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/photos", get(state))
        .route(
            "/v1/photos/{request}/{receipt}",
            post(upload).layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES + SEAL_OVERHEAD)),
        )
        .route("/console/api/learners/{id}/photos", get(view).post(request))
}

fn bad_path(what: &'static str) -> ApiError {
    ServiceError::Invalid("request.invalid_path", format!("the {what} is not valid")).into()
}

async fn state(
    State(st): State<AppState>,
    DeviceAuth(d): DeviceAuth,
) -> Result<Json<PhotoStateJson>, ApiError> {
    Ok(Json(blocking(&st, move |svc| svc.photo_state(&d)).await?))
}

/// `POST /v1/photos/{request}/{receipt}` with the sealed photo as the body, or
/// `POST /v1/photos/{request}/done` when the device has sent every photo it holds.
async fn upload(
    State(st): State<AppState>,
    DeviceAuth(d): DeviceAuth,
    Path((request, receipt)): Path<(String, String)>,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let request = Uuid::parse_str(&request).map_err(|_| bad_path("request id"))?;
    if receipt == "done" {
        blocking(&st, move |svc| svc.photos_done(&d, request)).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let receipt: ReceiptId = receipt.parse().map_err(|_| bad_path("receipt id"))?;
    let answer: PhotoUploadAnswer = blocking(&st, move |svc| {
        svc.receive_photo(&d, request, receipt, &body)
    })
    .await?;
    Ok(Json(answer).into_response())
}

fn learner(s: &str) -> Result<LearnerId, ApiError> {
    Uuid::parse_str(s)
        .map(LearnerId)
        .map_err(|_| bad_path("learner id"))
}

/// `GET /console/api/learners/{id}/photos`: the requests for the learner's photos and the photos
/// kept for them, with their receipts' times.
async fn view(
    State(st): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    let id = learner(&id)?;
    let user = who.user;
    Ok(Json(
        blocking(&st, move |svc| svc.photo_requests_view(&user, id)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewRequest {
    reason: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    id: Uuid,
    requested_ms: i64,
}

/// `POST /console/api/learners/{id}/photos` `{reason}`: asks the learner's devices for the
/// photos they hold (written to the audit log).
async fn request(
    State(st): State<AppState>,
    who: Person,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NewRequest>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let id = learner(&id)?;
    let user = who.user;
    let r = blocking(&st, move |svc| svc.request_photos(&user, id, &req.reason)).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: r.id,
            requested_ms: r.requested_ms,
        }),
    ))
}
