//! The console's administrator and trainer pages' API (issue #15, items 3 and 4): published
//! courses, a class's progress and assignments, certificates (list, PDF, revoke) and the flags
//! with their resolutions. Same person, session, CSRF and organisation rules as
//! `http::console`; everything a person changes or prints is written to the audit log.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearth_protocol::LearnerId;
use hearth_protocol::wire::{CatalogEntry, ClassProgress, NewAssignment};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::body::JsonBody;
use super::certificates::{check_serial, readable};
use super::console::Person;
use super::{ApiError, AppState, blocking};
use crate::domain::flag_review::ConsoleFlag;
use crate::domain::{Principal, ServiceError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/api/courses", get(courses))
        .route("/console/api/classes/{id}/progress", get(class_progress))
        .route(
            "/console/api/classes/{id}/assignments",
            get(assignments).post(assign),
        )
        .route("/console/api/certificates", get(certificates))
        .route("/console/api/certificates/{serial}/pdf", get(pdf))
        .route("/console/api/certificates/{serial}/revoke", post(revoke))
        .route("/console/api/classes/{id}/cards", post(issue_cards))
        .route("/console/api/flags", get(flags))
        .route("/console/api/flags/resolve", post(resolve))
}

fn class_id(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "class.invalid_id",
            "not a valid class id",
        )
    })
}

/// A class the caller may see: an administrator's organisation's, a trainer's own. Another
/// organisation's class reads as absent, not as forbidden, so that its id tells nothing.
fn class_of(
    svc: &crate::Service,
    who: &Person,
    id: Uuid,
) -> Result<crate::store::Class, ServiceError> {
    svc.class_for(&Principal::User(who.user.clone()), id)
        .map_err(|e| match e {
            ServiceError::Forbidden("auth.wrong_org", _) => {
                ServiceError::NotFound("class.not_found", "no such class")
            }
            e => e,
        })
}

/// `GET /console/api/courses`: the published courses (latest version of each), with their
/// occupation; administrators and trainers.
async fn courses(
    State(state): State<AppState>,
    _who: Person,
) -> Result<Json<Vec<CatalogEntry>>, ApiError> {
    let (catalog, _) = blocking(&state, |svc| svc.catalog()).await?;
    Ok(Json(catalog.courses))
}

/// `GET /console/api/classes/{id}/progress`: each learner's credited hours, courses, exams and
/// certificates, and the trainer's attendance attestations.
async fn class_progress(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<Json<ClassProgress>, ApiError> {
    let id = class_id(&id)?;
    Ok(Json(
        blocking(&state, move |svc| {
            let c = class_of(svc, &who, id)?;
            svc.class_progress(&c)
        })
        .await?,
    ))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentJson {
    id: Uuid,
    course: String,
    lesson: Option<String>,
    exam: Option<String>,
    due_ms: Option<i64>,
    created_ms: i64,
}

/// `GET /console/api/classes/{id}/assignments`: what the class's trainer assigned, oldest first.
async fn assignments(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<Json<Vec<AssignmentJson>>, ApiError> {
    let id = class_id(&id)?;
    let list = blocking(&state, move |svc| {
        let c = class_of(svc, &who, id)?;
        Ok(svc.store.assignments(c.org, Some(c.id))?)
    })
    .await?;
    Ok(Json(list.into_iter().map(assignment_json).collect()))
}

fn assignment_json(a: crate::store::Assignment) -> AssignmentJson {
    AssignmentJson {
        id: a.id,
        course: a.course,
        lesson: a.lesson,
        exam: a.exam,
        due_ms: a.due_ms,
        created_ms: a.created_ms,
    }
}

/// `POST /console/api/classes/{id}/assignments` (the class's trainer, or an administrator):
/// assigns a lesson, an exam or a whole course, shown on the class's kiosks and learners' PCs.
async fn assign(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
    JsonBody(new): JsonBody<NewAssignment>,
) -> Result<(StatusCode, Json<AssignmentJson>), ApiError> {
    let id = class_id(&id)?;
    let (org, actor) = (who.user.org, who.actor());
    let a = blocking(&state, move |svc| {
        class_of(svc, &who, id)?;
        let a = svc.assign(&Principal::User(who.user.clone()), id, new)?;
        svc.audit(
            org,
            actor,
            "assignment.add",
            json!({ "assignment": a.id, "class": a.class, "course": a.course,
                    "lesson": a.lesson, "exam": a.exam, "dueMs": a.due_ms }),
        )?;
        Ok(a)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(assignment_json(a))))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CertificateRow {
    serial: String,
    learner_id: LearnerId,
    name: String,
    course: String,
    issued_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_reason: Option<String>,
}

/// `GET /console/api/certificates` (administrators): the organisation's certificates, newest
/// first, revoked ones with when and why.
async fn certificates(
    State(state): State<AppState>,
    who: Person,
) -> Result<Json<Vec<CertificateRow>>, ApiError> {
    who.admin()?;
    let org = who.user.org;
    let mut rows = blocking(&state, move |svc| {
        let mut rows = Vec::new();
        for l in svc.store.learners_of_org(org)? {
            for c in svc.store.certificates_of_learner(l.id)? {
                let revoked = svc
                    .store
                    .certificate_credential(&c.serial)?
                    .and_then(|cc| cc.revoked);
                rows.push(CertificateRow {
                    serial: c.serial,
                    learner_id: l.id,
                    name: l.name.clone(),
                    course: c.course,
                    issued_ms: c.issued_ms,
                    revoked_ms: revoked.as_ref().map(|r| r.0),
                    revoked_reason: revoked.map(|r| r.1),
                });
            }
        }
        Ok(rows)
    })
    .await?;
    rows.sort_by(|a, b| b.issued_ms.cmp(&a.issued_ms).then(a.serial.cmp(&b.serial)));
    Ok(Json(rows))
}

/// `GET /console/api/certificates/{serial}/pdf` (administrators): the printable certificate,
/// shown in the browser (printing is recorded in the audit log).
async fn pdf(
    State(state): State<AppState>,
    who: Person,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    who.admin()?;
    check_serial(&serial)?;
    let name = format!("inline; filename=\"{serial}.pdf\"");
    let (org, actor) = (who.user.org, who.actor());
    let bytes = blocking(&state, move |svc| {
        let c = readable(svc, &Principal::User(who.user.clone()), &serial)?;
        let pdf = svc.certificate_pdf(&c)?;
        svc.audit(org, actor, "certificate.print", json!({ "serial": serial }))?;
        Ok(pdf)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
}

/// `POST /console/api/certificates/{serial}/revoke` (administrators): `{reason}`.
async fn revoke(
    State(state): State<AppState>,
    who: Person,
    Path(serial): Path<String>,
    JsonBody(body): JsonBody<RevokeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.admin()?;
    check_serial(&serial)?;
    let (org, actor) = (who.user.org, who.actor());
    let s = serial.clone();
    blocking(&state, move |svc| {
        readable(svc, &Principal::User(who.user.clone()), &s)?;
        svc.revoke_certificate(&s, &body.reason)?;
        svc.audit(
            org,
            actor,
            "certificate.revoke",
            json!({ "serial": s, "reason": body.reason.trim() }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "serial": serial, "revoked": true })))
}

/// One printed sign-in card of the console's card sheet.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CardJson {
    #[serde(flatten)]
    card: crate::domain::cards::IssuedCard,
    /// The card's QR code, an SVG image.
    qr_svg: String,
}

/// `POST /console/api/classes/{id}/cards` (administrators): issues every learner of the class a
/// new kiosk sign-in card (replacing their old one) and returns the card sheet to print: name,
/// masked ID number, the QR code and its text. Written to the audit log (without the secrets).
async fn issue_cards(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<Json<Vec<CardJson>>, ApiError> {
    who.admin()?;
    let id = class_id(&id)?;
    let (org, actor) = (who.user.org, who.actor());
    let cards = blocking(&state, move |svc| {
        class_of(svc, &who, id)?;
        let cards = svc.issue_class_cards(hearth_protocol::ClassId(id))?;
        svc.audit(
            org,
            actor,
            "cards.issue",
            json!({
                "class": id,
                "cards": cards.iter().map(|c| json!({"learner": c.learner_id, "serial": c.serial})).collect::<Vec<_>>(),
            }),
        )?;
        cards
            .into_iter()
            .map(|card| {
                Ok(CardJson {
                    qr_svg: crate::domain::cards::card_qr_svg(&card.card_text)?,
                    card,
                })
            })
            .collect::<Result<Vec<_>, ServiceError>>()
    })
    .await?;
    Ok(Json(cards))
}

/// `GET /console/api/flags` (administrators): every flag of the organisation, resolved ones
/// with their resolution.
async fn flags(
    State(state): State<AppState>,
    who: Person,
) -> Result<Json<Vec<ConsoleFlag>>, ApiError> {
    who.admin()?;
    let org = who.user.org;
    Ok(Json(
        blocking(&state, move |svc| svc.console_flags(org)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    key: String,
    note: String,
}

/// `POST /console/api/flags/resolve` (administrators): `{key, note}`.
async fn resolve(
    State(state): State<AppState>,
    who: Person,
    JsonBody(body): JsonBody<ResolveBody>,
) -> Result<Json<ConsoleFlag>, ApiError> {
    who.admin()?;
    let (org, by, actor) = (who.user.org, who.user.id, who.actor());
    Ok(Json(
        blocking(&state, move |svc| {
            let f = svc.resolve_console_flag(org, by, &body.key, &body.note)?;
            svc.audit(
                org,
                actor,
                "flag.resolve",
                json!({ "key": f.key, "note": body.note.trim() }),
            )?;
            Ok(f)
        })
        .await?,
    ))
}
