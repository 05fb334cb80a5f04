//! The console's API (issue #15) under `/console/api/`, and its pages under `/console/`.
//!
//! A person is known by the session cookie `hearth_console` (set by `POST
//! /console/api/sign-in`), or, for scripts, by an administrator's or trainer's bearer token. A
//! cookie-authenticated request that changes anything (any method but GET and HEAD) must carry
//! the session's anti-forgery token in `X-CSRF-Token` (see `domain::people`); a bearer request
//! needs none. Every route checks the role and keeps to the caller's organisation.

use std::path::Path;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearth_protocol::LearnerId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::body::{JsonBody, read_body};
use super::guard::Peer;
use super::{ApiError, AppState, blocking};
use crate::domain::audit::{Actor, AuditReport};
use crate::domain::people::ConsoleCaller;
use crate::domain::roster_import::Preview;
use crate::domain::{Principal, ServiceError, mask_national_id};
use crate::store::{Role, User};

pub const COOKIE: &str = "hearth_console";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The most bytes of a roster file.
const ROSTER_MAX: usize = 5 << 20;

pub(super) fn routes(pages: Option<&Path>) -> Router<AppState> {
    let r = Router::new()
        .route("/console/api/sign-in", post(sign_in))
        .route("/console/api/sign-out", post(sign_out))
        .route("/console/api/session", get(session))
        .route("/console/api/audit", get(audit))
        .route("/console/api/audit/verify", get(audit_verify))
        .route("/console/api/learners", get(learners).post(add_learner))
        .route("/console/api/roster/preview", post(roster_preview))
        .route("/console/api/roster/import", post(roster_import))
        .route("/console/api/trainers", get(trainers))
        .route("/console/api/classes", get(classes).post(add_class))
        .route("/console/api/codes", post(codes))
        // Anything else under the API is a JSON 404, never the pages' index.html. (Written so
        // that the OpenAPI test, which reads this file's routes, does not take it for one.)
        .route(
            concat!("/console/api", "/{*rest}"),
            axum::routing::any(super::handlers::not_found),
        );
    match pages {
        Some(dir) => {
            let index = dir.join("index.html");
            r.nest_service(
                "/console",
                tower_http::services::ServeDir::new(dir)
                    .fallback(tower_http::services::ServeFile::new(index)),
            )
        }
        None => r,
    }
}

/// Query parameters, refused as `400 request.invalid_query` (an error body, as everywhere).
pub(super) struct Q<T>(pub(super) T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<AppState> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(Q(q)),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "request.invalid_query",
                format!("the query is not valid: {}", e.body_text()),
            )),
        }
    }
}

fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A person calling the console API: by session cookie (`session` is set) or bearer token.
#[derive(Debug)]
pub struct Person {
    pub user: User,
    pub session: Option<ConsoleCaller>,
}

impl Person {
    pub(super) fn actor(&self) -> Actor {
        Actor::User(self.user.id)
    }

    pub(super) fn admin(&self) -> Result<(), ApiError> {
        if self.user.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "auth.forbidden",
                "only an administrator may do this",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return match super::body::Auth::from_request_parts(parts, state).await?.0 {
                Principal::User(user) => Ok(Person {
                    user,
                    session: None,
                }),
                Principal::Device(_) => Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "auth.forbidden",
                    "the console is for administrators and trainers, not devices",
                )),
            };
        }
        let Some(token) = cookie_value(parts, COOKIE).map(str::to_owned) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "console.no_session",
                "sign in first",
            ));
        };
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let changes = !matches!(parts.method, Method::GET | Method::HEAD);
        let caller = blocking(state, move |svc| {
            let c = svc.console_caller(&token)?;
            if changes {
                svc.check_csrf(&c, sent.as_deref())?;
            }
            Ok(c)
        })
        .await?;
        Ok(Person {
            user: caller.user.clone(),
            session: Some(caller),
        })
    }
}

fn session_cookie(state: &AppState, value: &str, max_age_s: i64) -> HeaderValue {
    let secure = if state.svc.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PersonJson {
    id: Uuid,
    name: String,
    role: &'static str,
    org: Uuid,
    org_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionJson {
    user: PersonJson,
    /// For `X-CSRF-Token` (absent for a bearer token).
    csrf_token: Option<String>,
    expires_ms: Option<i64>,
}

fn person_json(svc: &crate::Service, u: &User) -> Result<PersonJson, ServiceError> {
    Ok(PersonJson {
        id: u.id,
        name: u.name.clone(),
        role: u.role.as_str(),
        org: u.org,
        org_name: svc.require_org(u.org)?.name,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    login: String,
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    Peer(addr): Peer,
    JsonBody(req): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let address = addr.map_or_else(|| "-".to_owned(), |a| a.to_string());
    let r = blocking(&state, move |svc| {
        let s = svc.sign_in(&req.login, &req.password, &address)?;
        let user = person_json(svc, &s.user)?;
        Ok((s, user))
    })
    .await;
    let (s, user) = r.inspect_err(|e| {
        if e.code.starts_with("console.") {
            state.guard.failed_guess(addr, "console sign-in", e.code);
        }
    })?;
    let max_age = (s.expires_ms - state.svc.now()) / 1000;
    let mut res = Json(SessionJson {
        user,
        csrf_token: Some(s.csrf_token),
        expires_ms: Some(s.expires_ms),
    })
    .into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state, &s.session_token, max_age),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn sign_out(State(state): State<AppState>, who: Person) -> Result<Response, ApiError> {
    let Some(caller) = who.session else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "console.no_session",
            "a bearer token has no session to end (revoke it instead)",
        ));
    };
    blocking(&state, move |svc| svc.sign_out(&caller)).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    Ok(res)
}

async fn session(State(state): State<AppState>, who: Person) -> Result<Response, ApiError> {
    let user = who.user.clone();
    let user = blocking(&state, move |svc| person_json(svc, &user)).await?;
    let mut res = Json(SessionJson {
        user,
        csrf_token: who.session.as_ref().map(ConsoleCaller::csrf_token),
        expires_ms: who.session.as_ref().map(|s| s.session.expires_ms),
    })
    .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    after: Option<u64>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditJson {
    seq: u64,
    at_ms: i64,
    actor: String,
    action: String,
    detail: serde_json::Value,
    prev_hash: String,
    hash: String,
}

async fn audit(
    State(state): State<AppState>,
    who: Person,
    Q(q): Q<AuditQuery>,
) -> Result<Json<Vec<AuditJson>>, ApiError> {
    who.admin()?;
    let org = who.user.org;
    let page = blocking(&state, move |svc| {
        svc.audit_page(org, q.after.unwrap_or(0), q.limit.unwrap_or(100))
    })
    .await?;
    Ok(Json(
        page.into_iter()
            .map(|e| AuditJson {
                seq: e.seq,
                at_ms: e.at_ms,
                actor: e.actor,
                action: e.action,
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                prev_hash: hex::encode(e.prev_hash),
                hash: hex::encode(e.hash),
            })
            .collect(),
    ))
}

async fn audit_verify(
    State(state): State<AppState>,
    who: Person,
) -> Result<Json<AuditReport>, ApiError> {
    who.admin()?;
    let org = who.user.org;
    Ok(Json(
        blocking(&state, move |svc| svc.verify_audit(org)).await?,
    ))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LearnerJson {
    id: LearnerId,
    name: String,
    /// Masked to the last four characters.
    national_id: String,
    class_id: Option<Uuid>,
}

fn learner_json(l: crate::store::Learner) -> LearnerJson {
    LearnerJson {
        id: l.id,
        name: l.name,
        national_id: mask_national_id(&l.national_id_tail, 18),
        class_id: l.class,
    }
}

async fn learners(
    State(state): State<AppState>,
    who: Person,
) -> Result<Json<Vec<LearnerJson>>, ApiError> {
    who.admin()?;
    let org = who.user.org;
    let all = blocking(&state, move |svc| Ok(svc.store.learners_of_org(org)?)).await?;
    Ok(Json(all.into_iter().map(learner_json).collect()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewLearner {
    name: String,
    national_id: String,
    class_id: Option<Uuid>,
}

async fn add_learner(
    State(state): State<AppState>,
    who: Person,
    JsonBody(req): JsonBody<NewLearner>,
) -> Result<(StatusCode, Json<LearnerJson>), ApiError> {
    who.admin()?;
    if req.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "learner.missing_name",
            "a learner needs a name",
        ));
    }
    let (org, actor) = (who.user.org, who.actor());
    let l = blocking(&state, move |svc| {
        let l = svc.add_learner(org, &req.name, &req.national_id, req.class_id, None)?;
        svc.audit(org, actor, "learner.add", json!({ "learner": l.id }))?;
        Ok(l)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(learner_json(l))))
}

/// A roster file as the body: `text/csv` or the XLSX media type.
struct RosterBody(Vec<u8>);

impl FromRequest<AppState> for RosterBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if ct != "text/csv"
            && ct != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                "send the roster as text/csv or as an XLSX workbook",
            ));
        }
        Ok(RosterBody(
            read_body(req, &state.limits, &state.buffered, ROSTER_MAX, ROSTER_MAX).await?,
        ))
    }
}

async fn roster_preview(
    State(state): State<AppState>,
    who: Person,
    RosterBody(bytes): RosterBody,
) -> Result<Json<Preview>, ApiError> {
    who.admin()?;
    let org = who.user.org;
    Ok(Json(
        blocking(&state, move |svc| svc.preview_roster(org, &bytes)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportQuery {
    class_id: Option<Uuid>,
}

async fn roster_import(
    State(state): State<AppState>,
    who: Person,
    Q(q): Q<ImportQuery>,
    RosterBody(bytes): RosterBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.admin()?;
    let (org, actor) = (who.user.org, who.actor());
    let imported = blocking(&state, move |svc| {
        svc.import_roster(org, actor, &bytes, q.class_id)
    })
    .await?;
    Ok(Json(json!({ "imported": imported.len() })))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TrainerJson {
    id: Uuid,
    name: String,
}

async fn trainers(
    State(state): State<AppState>,
    who: Person,
) -> Result<Json<Vec<TrainerJson>>, ApiError> {
    who.admin()?;
    let org = who.user.org;
    let users = blocking(&state, move |svc| Ok(svc.store.users_of_org(org)?)).await?;
    Ok(Json(
        users
            .into_iter()
            .filter(|u| u.role == Role::Trainer)
            .map(|u| TrainerJson {
                id: u.id,
                name: u.name,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClassJson {
    id: Uuid,
    name: String,
    trainer_id: Uuid,
    learners: usize,
}

/// An administrator's organisation's classes; a trainer's own.
async fn classes(
    State(state): State<AppState>,
    who: Person,
) -> Result<Json<Vec<ClassJson>>, ApiError> {
    let user = who.user;
    let out = blocking(&state, move |svc| {
        let mut out = Vec::new();
        for c in svc.store.classes_of_org(user.org)? {
            if user.role == Role::Trainer && c.trainer != user.id {
                continue;
            }
            let learners = svc.store.learners_of_class(c.id)?.len();
            out.push(ClassJson {
                id: c.id,
                name: c.name,
                trainer_id: c.trainer,
                learners,
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewClass {
    name: String,
    trainer_id: Uuid,
}

async fn add_class(
    State(state): State<AppState>,
    who: Person,
    JsonBody(req): JsonBody<NewClass>,
) -> Result<(StatusCode, Json<ClassJson>), ApiError> {
    who.admin()?;
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "class.invalid_name",
            "a class needs a name of 1 to 200 bytes",
        ));
    }
    let (org, actor) = (who.user.org, who.actor());
    let c = blocking(&state, move |svc| {
        // The trainer must be one of the administrator's own organisation.
        match svc.store.user(req.trainer_id)? {
            Some(t) if t.org == org && t.role == Role::Trainer => {}
            _ => {
                return Err(ServiceError::NotFound(
                    "trainer.not_found",
                    "no such trainer in this organisation",
                ));
            }
        }
        let c = svc.add_class(req.trainer_id, &name)?;
        svc.audit(
            org,
            actor,
            "class.add",
            json!({ "class": c.id, "name": c.name }),
        )?;
        Ok(c)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ClassJson {
            id: c.id,
            name: c.name,
            trainer_id: c.trainer,
            learners: 0,
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCodes {
    /// One code for each of these learners' own devices.
    #[serde(default)]
    learner_ids: Vec<LearnerId>,
    /// And this many kiosk codes,
    #[serde(default)]
    kiosks: u32,
    /// each for a kiosk serving these classes (it holds the PIN verifiers of their people only;
    /// a kiosk of no class can sign nobody in).
    #[serde(default)]
    kiosk_class_ids: Vec<Uuid>,
    hours: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeJson {
    code: String,
    learner_id: Option<LearnerId>,
    /// The learner's name, or none for a kiosk code.
    name: Option<String>,
    expires_ms: i64,
}

async fn codes(
    State(state): State<AppState>,
    who: Person,
    JsonBody(req): JsonBody<NewCodes>,
) -> Result<Json<Vec<CodeJson>>, ApiError> {
    who.admin()?;
    let n = req.learner_ids.len() + req.kiosks as usize;
    if n == 0 || n > 500 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "codes.invalid_count",
            "issue 1 to 500 codes at once",
        ));
    }
    if let Some(h) = req.hours
        && !(1..=24 * 30).contains(&h)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "codes.invalid_hours",
            "a code lasts 1 hour to 30 days",
        ));
    }
    let (org, actor) = (who.user.org, who.actor());
    let out = blocking(&state, move |svc| {
        let hours = req.hours.unwrap_or(svc.config.enrollment_code_hours);
        let expires_ms = svc.now() + hours * 3600 * 1000;
        // Every learner is checked before any code is made.
        let mut people = Vec::new();
        for l in &req.learner_ids {
            let learner = svc.learner_for(&Principal::User(who.user.clone()), *l)?;
            people.push(learner);
        }
        // Kiosk codes first: their classes are checked there, before any code is made.
        let mut kiosk_codes = Vec::with_capacity(req.kiosks as usize);
        for _ in 0..req.kiosks {
            // Another organisation's class is not found, as everywhere in the console: its
            // existence is not the caller's to learn.
            let issued = svc
                .issue_kiosk_code(org, &req.kiosk_class_ids, Some(hours))
                .map_err(|e| match e.code() {
                    "auth.wrong_org" => ServiceError::NotFound("class.not_found", "no such class"),
                    _ => e,
                })?;
            kiosk_codes.push(CodeJson {
                code: issued.code,
                learner_id: None,
                name: None,
                expires_ms: issued.expires_ms,
            });
        }
        let mut out = Vec::with_capacity(n);
        for l in people {
            out.push(CodeJson {
                code: svc.issue_enrollment_code(org, Some(l.id), Some(hours))?,
                learner_id: Some(l.id),
                name: Some(l.name),
                expires_ms,
            });
        }
        out.extend(kiosk_codes);
        svc.audit(
            org,
            actor,
            "codes.issue",
            json!({
                "learners": req.learner_ids,
                "kiosks": req.kiosks,
                "kioskClasses": req.kiosk_class_ids,
                "hours": hours,
            }),
        )?;
        Ok(out)
    })
    .await?;
    Ok(Json(out))
}
