//! Subsidy claims in the console (issue #15 item 5, `domain::claim_review`): an administrator
//! submits a class's claim, the supervisor of the institution's region reviews it. Same
//! person, session, CSRF and bearer rules as the rest of the console (`http::console::Person`).
//! A claim the caller may not see answers `404 claim.not_found`; trainers get `403`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use super::body::JsonBody;
use super::console::Person;
use super::{ApiError, AppState, blocking};
use crate::domain::claim_review::{ClaimDetail, ClaimJson};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/api/claims", get(list))
        .route("/console/api/classes/{id}/claims", post(submit))
        .route("/console/api/claims/{id}", get(detail))
        .route("/console/api/claims/{id}/pack", get(pack))
        .route("/console/api/claims/{id}/approve", post(approve))
        .route("/console/api/claims/{id}/reject", post(reject))
}

fn parse_id(s: &str, code: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, code, "not a valid id"))
}

/// `GET /console/api/claims`: an administrator's organisation's claims, or a supervisor's
/// region's; pending first.
async fn list(
    State(state): State<AppState>,
    who: Person,
) -> Result<Json<Vec<ClaimJson>>, ApiError> {
    Ok(Json(
        blocking(&state, move |svc| svc.claims_for(&who.user)).await?,
    ))
}

/// `POST /console/api/classes/{id}/claims` (administrators): submits the class's claim.
async fn submit(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ClaimJson>), ApiError> {
    who.admin()?;
    let id = parse_id(&id, "class.invalid_id")?;
    let c = blocking(&state, move |svc| svc.submit_claim(&who.user, id)).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// `GET /console/api/claims/{id}`: the claim, its learners and their open flags.
async fn detail(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<Json<ClaimDetail>, ApiError> {
    let id = parse_id(&id, "claim.invalid_id")?;
    Ok(Json(
        blocking(&state, move |svc| svc.claim_detail(&who.user, id)).await?,
    ))
}

/// `GET /console/api/claims/{id}/pack`: the frozen signed claim pack, byte for byte as
/// submitted (its SHA-256 is the claim's `packSha256`).
async fn pack(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "claim.invalid_id")?;
    let bytes = blocking(&state, move |svc| svc.claim_pack_bytes(&who.user, id)).await?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"claim-{id}.json\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `POST /console/api/claims/{id}/approve` (the region's supervisors).
async fn approve(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<Json<ClaimJson>, ApiError> {
    let id = parse_id(&id, "claim.invalid_id")?;
    Ok(Json(
        blocking(&state, move |svc| {
            svc.decide_claim(&who.user, id, true, None)
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
}

/// `POST /console/api/claims/{id}/reject` (the region's supervisors): `{reason}`, required.
async fn reject(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RejectBody>,
) -> Result<Json<ClaimJson>, ApiError> {
    let id = parse_id(&id, "claim.invalid_id")?;
    Ok(Json(
        blocking(&state, move |svc| {
            svc.decide_claim(&who.user, id, false, Some(&body.reason))
        })
        .await?,
    ))
}
