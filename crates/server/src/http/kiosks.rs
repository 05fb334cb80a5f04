//! Administrators' routes for enrollment codes and the classes a kiosk serves (issue #16): see
//! `crate::domain::kiosk_classes`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hearth_protocol::{DeviceId, LearnerId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::body::{Auth, JsonBody};
use super::{ApiError, AppState, blocking};
use crate::domain::ServiceError;
use crate::domain::kiosk_classes::{KioskClasses, NO_CLASSES};

/// The longest an enrollment code issued over HTTP stays valid: 30 days.
const MAX_CODE_HOURS: i64 = 30 * 24;

/// `POST /v1/admin/enrollment-codes`: a code for a learner's own PC, or for a kiosk serving
/// the classes named.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCode {
    learner_id: Option<Uuid>,
    #[serde(default)]
    class_ids: Vec<Uuid>,
    hours: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCodeJson {
    code: String,
    expires_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    learner_id: Option<Uuid>,
    class_ids: Vec<Uuid>,
    /// `kiosk.no_classes` for a kiosk code naming no class.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'static str>,
}

/// `PUT /v1/admin/devices/{id}/classes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KioskClassesRequest {
    class_ids: Vec<Uuid>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KioskClassesJson {
    device_id: DeviceId,
    class_ids: Vec<Uuid>,
    /// `kiosk.no_classes` when the kiosk serves no class.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'static str>,
}

impl From<KioskClasses> for KioskClassesJson {
    fn from(k: KioskClasses) -> Self {
        Self {
            warning: k.classes.is_empty().then_some(NO_CLASSES),
            device_id: k.device,
            class_ids: k.classes,
        }
    }
}

/// Something of another organisation is answered like something that does not exist.
fn hide(code: &'static str, message: &'static str) -> impl FnOnce(ApiError) -> ApiError {
    move |e| {
        if e.code == "auth.wrong_org" {
            ApiError::new(StatusCode::NOT_FOUND, code, message)
        } else {
            e
        }
    }
}

fn device_id(s: &str) -> Result<DeviceId, ApiError> {
    Uuid::parse_str(s).map(DeviceId).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "kiosk.invalid_device_id",
            "not a valid id",
        )
    })
}

pub async fn issue_code(
    State(state): State<AppState>,
    Auth(who): Auth,
    JsonBody(req): JsonBody<NewCode>,
) -> Result<(StatusCode, Json<IssuedCodeJson>), ApiError> {
    if req
        .hours
        .is_some_and(|h| !(1..=MAX_CODE_HOURS).contains(&h))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "enrollment.invalid_hours",
            format!("a code is valid for 1 to {MAX_CODE_HOURS} hours"),
        ));
    }
    let hidden = if req.learner_id.is_some() {
        hide("learner.not_found", "no such learner")
    } else {
        hide("class.not_found", "no such class")
    };
    let out = blocking(&state, move |svc| {
        svc.require_admin(&who)?;
        match req.learner_id {
            Some(_) if !req.class_ids.is_empty() => Err(ServiceError::Invalid(
                "enrollment.invalid",
                "a code names a learner (a personal PC) or classes (a kiosk), not both".into(),
            )),
            Some(l) => {
                let (code, expires_ms) =
                    svc.issue_code(who.org(), Some(LearnerId(l)), Vec::new(), req.hours)?;
                Ok(IssuedCodeJson {
                    code,
                    expires_ms,
                    learner_id: Some(l),
                    class_ids: Vec::new(),
                    warning: None,
                })
            }
            None => {
                let c = svc.issue_kiosk_code(who.org(), &req.class_ids, req.hours)?;
                Ok(IssuedCodeJson {
                    code: c.code,
                    expires_ms: c.expires_ms,
                    learner_id: None,
                    warning: c.classes.is_empty().then_some(NO_CLASSES),
                    class_ids: c.classes,
                })
            }
        }
    })
    .await
    .map_err(hidden)?;
    Ok((StatusCode::CREATED, Json(out)))
}

pub async fn kiosk_classes(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<KioskClassesJson>, ApiError> {
    let id = device_id(&id)?;
    let k = blocking(&state, move |svc| svc.kiosk_classes(Some(&who), id)).await?;
    Ok(Json(k.into()))
}

pub async fn set_kiosk_classes(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<KioskClassesRequest>,
) -> Result<Json<KioskClassesJson>, ApiError> {
    let id = device_id(&id)?;
    let k = blocking(&state, move |svc| {
        svc.set_kiosk_classes(Some(&who), id, &req.class_ids)
    })
    .await
    .map_err(hide("class.not_found", "no such class"))?;
    Ok(Json(k.into()))
}
