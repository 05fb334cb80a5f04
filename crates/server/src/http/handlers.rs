//! Route handlers: convert transport types, call the domain, convert back.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_protocol::wire::{
    AnchorJson, AssignmentJson, BundleResponse, BundleSectionResult, Catalog, ClassProgress,
    EnrollRequest, EnrollResponse, FlagsReport, HeadJson, LearnerRecord, NewAssignment, OrgJson,
    Rejection, RosterEntry, SyncState, UploadResponse,
};
use hearth_protocol::{ContentHash, LearnerId};
use tower::ServiceExt;
use uuid::Uuid;

use super::body::{Auth, BatchBody, BundleBody, DeviceAuth, JsonBody};
use super::guard::Peer;
use super::{ApiError, AppState, blocking};
use crate::domain::{Principal, ReceiptOutcome, RosterPerson};

static OPENAPI: &str = include_str!("../../../../docs/openapi.json");

pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method",
    )
}

fn roster_json(r: Vec<RosterPerson>) -> Vec<RosterEntry> {
    r.into_iter()
        .map(|p| RosterEntry {
            learner_id: p.id,
            name: p.name,
            role: p.role.into(),
            pin_hash: p.pin_hash,
            card: p.card,
            classes: p.classes,
        })
        .collect()
}

pub async fn enroll(
    State(state): State<AppState>,
    Peer(addr): Peer,
    JsonBody(req): JsonBody<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    state.guard.may_guess(addr)?;
    let e = blocking(&state, move |svc| {
        svc.enroll(&req.code, req.public_key, req.device_id, req.label)
    })
    .await
    .inspect_err(|e| {
        if e.code.starts_with("enroll.") && e.code != "enroll.invalid_label" {
            state.guard.failed_guess(addr, "enrollment code", e.code);
        }
    })?;
    Ok(Json(EnrollResponse {
        device_id: e.device.id,
        credential: e.credential,
        credential_expires_ms: e.credential_expires_ms,
        org: OrgJson {
            id: e.org.id.to_string(),
            name: e.org.name,
        },
        learner_id: e.device.learner,
        roster: roster_json(e.roster),
        publisher_keys: vec![state.svc.keys.publisher_public()],
        anchor_key: state.svc.keys.anchor_public(),
        anchor: AnchorJson::from(&e.anchor),
    }))
}

pub async fn anchor(State(state): State<AppState>, DeviceAuth(d): DeviceAuth) -> Json<AnchorJson> {
    Json(AnchorJson::from(&state.svc.anchor_for(d.id)))
}

pub async fn roster(
    State(state): State<AppState>,
    DeviceAuth(d): DeviceAuth,
) -> Result<Json<Vec<RosterEntry>>, ApiError> {
    let r = blocking(&state, move |svc| svc.roster(&d)).await?;
    Ok(Json(roster_json(r)))
}

pub async fn sync_state(
    State(state): State<AppState>,
    DeviceAuth(d): DeviceAuth,
) -> Result<Json<SyncState>, ApiError> {
    let id = d.id;
    let (st, tag) = blocking(&state, move |svc| {
        Ok((svc.chain_state(id)?, svc.classroom_tag(&d)?))
    })
    .await?;
    Ok(Json(SyncState {
        device_id: id,
        head: HeadJson::from(st.head),
        anchor: AnchorJson::from(&state.svc.anchor_for(id)),
        flagged: st.flag.is_some(),
        pending: st.pending,
        classroom_tag: Some(tag),
    }))
}

pub async fn upload(
    State(state): State<AppState>,
    DeviceAuth(d): DeviceAuth,
    BatchBody(envelopes, _turn): BatchBody,
) -> Result<Json<UploadResponse>, ApiError> {
    let id = d.id;
    let out = blocking(&state, move |svc| svc.ingest(&d, envelopes)).await?;
    let (results, rejections) = letters(&out.results);
    Ok(Json(UploadResponse {
        results,
        rejections,
        head: HeadJson::from(out.head),
        anchor: AnchorJson::from(&state.svc.anchor_for(id)),
        flagged: out.flagged,
    }))
}

/// One status letter per receipt, and the rejections by index.
fn letters(outcomes: &[ReceiptOutcome]) -> (String, Vec<Rejection>) {
    let mut results = String::with_capacity(outcomes.len());
    let mut rejections = Vec::new();
    for (i, r) in outcomes.iter().enumerate() {
        results.push(match r {
            ReceiptOutcome::Accepted => 'A',
            ReceiptOutcome::Duplicate => 'D',
            ReceiptOutcome::Pending => 'P',
            ReceiptOutcome::Rejected { code, seq } => {
                rejections.push(Rejection {
                    index: i as u32,
                    code: (*code).into(),
                    seq: *seq,
                });
                'R'
            }
        });
    }
    (results, rejections)
}

/// `POST /v1/sync/bundle`: receipts of other devices of the caller's organisation, carried by a
/// kiosk (or a trainer), each section verified under its own device's key.
pub async fn relay(
    State(state): State<AppState>,
    Auth(who): Auth,
    BundleBody(bytes, _turn): BundleBody,
) -> Result<Json<BundleResponse>, ApiError> {
    let org = who.org();
    let sections = blocking(&state, move |svc| {
        let sections = svc.ingest_bundle(Some(org), &bytes)?;
        svc.record_carrier(Some(&who), &sections)?;
        Ok(sections)
    })
    .await?;
    let sections = sections
        .into_iter()
        .map(|s| match s.result {
            Ok(out) => {
                let (results, rejections) = letters(&out.results);
                BundleSectionResult {
                    device_id: s.device,
                    code: None,
                    results,
                    rejections,
                    head: Some(out.head.into()),
                }
            }
            Err(code) => BundleSectionResult {
                device_id: s.device,
                // A device of another organisation is reported like an unknown one.
                code: Some(
                    if code == "auth.wrong_org" {
                        "device.unknown"
                    } else {
                        code
                    }
                    .into(),
                ),
                results: String::new(),
                rejections: Vec::new(),
                head: None,
            },
        })
        .collect();
    Ok(Json(BundleResponse { sections }))
}

/// Something of another organisation is answered exactly like something that does not exist,
/// so that ids cannot be probed across organisations.
fn hide_other_org(code: &'static str, message: &'static str) -> impl FnOnce(ApiError) -> ApiError {
    move |e| {
        if e.code == "auth.wrong_org" {
            ApiError::new(StatusCode::NOT_FOUND, code, message)
        } else {
            e
        }
    }
}

fn parse_uuid(s: &str, code: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, code, "not a valid id"))
}

pub async fn learner_record(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<LearnerRecord>, ApiError> {
    let id = LearnerId(parse_uuid(&id, "learner.invalid_id")?);
    let r = blocking(&state, move |svc| {
        let l = svc.learner_for(&who, id)?;
        // A device reads its own learner's record from the primary (it must see what it just
        // uploaded); administrators and trainers from the read replica, if there is one.
        match who {
            Principal::Device(_) => svc.learner_record(&l),
            Principal::User(_) => svc.for_reports().learner_record(&l),
        }
    })
    .await
    .map_err(hide_other_org("learner.not_found", "no such learner"))?;
    Ok(Json(r))
}

pub async fn class_progress(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<ClassProgress>, ApiError> {
    let id = parse_uuid(&id, "class.invalid_id")?;
    let r = blocking(&state, move |svc| {
        let c = svc.class_view_for(&who, id)?;
        match who {
            Principal::Device(_) => svc.class_progress(&c),
            Principal::User(_) => svc.for_reports().class_progress(&c),
        }
    })
    .await
    .map_err(hide_other_org("class.not_found", "no such class"))?;
    Ok(Json(r))
}

pub async fn assign(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    JsonBody(new): JsonBody<NewAssignment>,
) -> Result<(StatusCode, Json<AssignmentJson>), ApiError> {
    let id = parse_uuid(&id, "class.invalid_id")?;
    let a = blocking(&state, move |svc| svc.assign(&who, id, new))
        .await
        .map_err(hide_other_org("class.not_found", "no such class"))?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

pub async fn class_assignments(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<AssignmentJson>>, ApiError> {
    let id = parse_uuid(&id, "class.invalid_id")?;
    let list = blocking(&state, move |svc| svc.class_assignments(&who, id))
        .await
        .map_err(hide_other_org("class.not_found", "no such class"))?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

pub async fn device_assignments(
    State(state): State<AppState>,
    DeviceAuth(d): DeviceAuth,
) -> Result<Json<Vec<AssignmentJson>>, ApiError> {
    let list = blocking(&state, move |svc| svc.assignments_for_device(&d)).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[derive(Debug, serde::Deserialize)]
pub struct FlagsQuery {
    /// `nextBefore` of the previous page (rejections).
    before: Option<i64>,
    /// `nextAfter` of the previous page (learners).
    after: Option<hearth_protocol::LearnerId>,
}

pub async fn admin_flags(
    State(state): State<AppState>,
    Auth(who): Auth,
    q: Result<axum::extract::Query<FlagsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<FlagsReport>, ApiError> {
    let axum::extract::Query(q) = q.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.invalid_query",
            "before is a whole number and after a learner id, from the previous page",
        )
    })?;
    let r = blocking(&state, move |svc| {
        svc.require_admin(&who)?;
        svc.for_reports().flags_report(who.org(), q.before, q.after)
    })
    .await?;
    Ok(Json(r))
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// The catalog, with a strong ETag: a client that sends it back in `If-None-Match` gets an empty
/// `304` when nothing changed.
pub async fn catalog(
    State(state): State<AppState>,
    Auth(_who): Auth,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (catalog, etag): (Catalog, String) = blocking(&state, |svc| svc.catalog()).await?;
    let etag_value = HeaderValue::from_str(&etag)
        .map_err(|_| ApiError::from(crate::domain::ServiceError::Internal("bad etag".into())))?;
    if etag_matches(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok(([(header::ETAG, etag_value)], Json(catalog)).into_response())
}

/// Serves a content-addressed file from the blob folder with Range and conditional support.
async fn serve_blob(
    state: &AppState,
    sha: ContentHash,
    mime: &str,
    mut req: Request,
) -> Result<Response, ApiError> {
    let path = state.svc.blob_path(&sha);
    let Ok(meta) = tokio::fs::metadata(&path).await else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "file.not_found",
            "no such file",
        ));
    };
    // `bytes=-N` asks for the last N bytes; when N is the whole file or more, the whole file is
    // the answer (RFC 9110 14.1.2), which tower-http refuses as unsatisfiable.
    let suffix = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes=-"))
        .and_then(|n| n.trim().parse::<u64>().ok());
    if suffix.is_some_and(|n| n > 0 && n >= meta.len()) && meta.len() > 0 {
        req.headers_mut()
            .insert(header::RANGE, HeaderValue::from_static("bytes=0-"));
    }
    let mime: mime::Mime = mime.parse().unwrap_or(mime_octet());
    let svc = tower_http::services::ServeFile::new_with_mime(path, &mime);
    let mut res = svc
        .oneshot(req)
        .await
        .map_err(|e| ApiError::from(crate::domain::ServiceError::Internal(e.to_string())))?
        .into_response();
    if res.status() == StatusCode::RANGE_NOT_SATISFIABLE {
        let range = res.headers().get(header::CONTENT_RANGE).cloned();
        let mut refused = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range.not_satisfiable",
            format!("the Range does not fit the file of {} bytes", meta.len()),
        )
        .into_response();
        if let Some(r) = range {
            refused.headers_mut().insert(header::CONTENT_RANGE, r);
        }
        return Ok(refused);
    }
    res.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{sha}\"")).expect("hex is a valid header"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(res)
}

fn mime_octet() -> mime::Mime {
    "application/octet-stream".parse().expect("valid mime")
}

/// The signed manifest of one course version (`application/vnd.hearth.manifest`).
pub async fn manifest(
    State(state): State<AppState>,
    Auth(_who): Auth,
    Path((course, version)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let version: u32 = version.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "course.invalid_version",
            "a course version is a whole number",
        )
    })?;
    let sha = blocking(&state, move |svc| svc.manifest_sha(&course, version)).await?;
    serve_blob(&state, sha, "application/vnd.hearth.manifest", req).await
}

/// A package file by its SHA-256 (hex).
pub async fn file(
    State(state): State<AppState>,
    Auth(_who): Auth,
    Path(sha): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let sha: ContentHash = sha.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "file.invalid_hash",
            "files are named by 64 hex digits of SHA-256",
        )
    })?;
    serve_blob(&state, sha, "application/octet-stream", req).await
}

/// `POST /v1/admin/revoke`: exactly one of the two.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeRequest {
    device_id: Option<Uuid>,
    user_id: Option<Uuid>,
}

/// Revokes every credential of a device, or every token of a user, of the administrator's
/// organisation (a user may also revoke its own); the next request with any of them is refused.
pub async fn admin_revoke(
    State(state): State<AppState>,
    Auth(who): Auth,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let n = blocking(&state, move |svc| match (req.device_id, req.user_id) {
        (Some(d), None) => svc.revoke_device(Some(&who), hearth_protocol::DeviceId(d)),
        (None, Some(u)) => svc.revoke_user(Some(&who), u),
        _ => Err(crate::domain::ServiceError::Invalid(
            "revoke.invalid",
            "name exactly one of deviceId and userId".into(),
        )),
    })
    .await?;
    Ok(Json(serde_json::json!({ "revoked": n })))
}

/// `POST /v1/auth/revoke`: revokes the credential this request carries (signing out, or a
/// device retiring itself).
pub async fn revoke_self(
    State(state): State<AppState>,
    Auth(_who): Auth,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(7..))
        .unwrap_or_default()
        .to_string();
    blocking(&state, move |svc| svc.revoke_token(&token)).await?;
    Ok(StatusCode::NO_CONTENT)
}
