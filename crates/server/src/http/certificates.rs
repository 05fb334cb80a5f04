//! Routes of certificates, their status list, the public verification page and claim packs
//! (issue #14).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hearth_protocol::LearnerId;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::body::{Auth, JsonBody};
use super::{ApiError, AppState, blocking};
use crate::domain::certificate::{ISSUER_PATH, IssuedCertificate, STATUS_LIST_PATH};
use crate::domain::{Service, ServiceError, ServiceResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(ISSUER_PATH, get(issuer))
        .route(STATUS_LIST_PATH, get(status_list))
        .route("/v1/certificates/{serial}", get(credential))
        .route("/v1/certificates/{serial}/qr", get(qr))
        .route("/v1/certificates/{serial}/pdf", get(pdf))
        .route("/v1/certificates/{serial}/revoke", post(revoke))
        .route("/v1/classes/{id}/claim-pack", get(class_claim_pack))
        .route("/v1/learners/{id}/claim-pack", get(learner_claim_pack))
        .route("/v1/learners/{id}/training-record", get(training_record))
        .route(
            "/v1/learners/{id}/training-record/pdf",
            get(training_record_pdf),
        )
        .route("/verify/{serial}", get(verify_page))
}

pub(super) fn check_serial(serial: &str) -> Result<(), ApiError> {
    if serial.len() > 64
        || !serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "certificate.invalid_serial",
            "a certificate serial number is letters, digits and '-'",
        ));
    }
    Ok(())
}

/// The certificate if the caller may read its learner (another organisation's reads as absent).
pub(super) fn readable(
    svc: &Service,
    who: &crate::domain::Principal,
    serial: &str,
) -> ServiceResult<IssuedCertificate> {
    let c = svc.issued_certificate(serial)?;
    svc.learner_for(who, c.certificate.learner)
        .map_err(|e| match e {
            ServiceError::Forbidden("auth.wrong_org", _) => ServiceError::NotFound(
                "certificate.not_found",
                "no certificate has this serial number",
            ),
            e => e,
        })?;
    Ok(c)
}

/// `GET /.well-known/hearth-issuer.json`: the key that verifies certificates.
async fn issuer(State(state): State<AppState>) -> Json<Value> {
    Json(state.svc.issuer_document())
}

/// `GET /v1/certificates/status/revocation`: the signed Bitstring Status List.
async fn status_list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = blocking(&state, |svc| svc.status_list()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vc+ld+json"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        list.to_string(),
    )
        .into_response())
}

/// `GET /v1/certificates/{serial}`: the signed credential.
async fn credential(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    check_serial(&serial)?;
    let c = blocking(&state, move |svc| readable(svc, &who, &serial)).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/vc+ld+json")],
        c.credential.to_string(),
    )
        .into_response())
}

/// `GET /v1/certificates/{serial}/qr`: the compact signed form printed as the QR code.
async fn qr(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(serial): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_serial(&serial)?;
    let text = blocking(&state, move |svc| {
        let c = readable(svc, &who, &serial)?;
        Ok(svc.certificate_qr(&c))
    })
    .await?;
    Ok(Json(json!({ "qr": text })))
}

/// `GET /v1/certificates/{serial}/pdf`: the printable A4 certificate.
async fn pdf(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    check_serial(&serial)?;
    let name = format!("attachment; filename=\"{serial}.pdf\"");
    let bytes = blocking(&state, move |svc| {
        let c = readable(svc, &who, &serial)?;
        svc.certificate_pdf(&c)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, name),
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

/// `POST /v1/certificates/{serial}/revoke` (administrators): `{reason}`.
async fn revoke(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(serial): Path<String>,
    JsonBody(body): JsonBody<RevokeBody>,
) -> Result<Json<Value>, ApiError> {
    check_serial(&serial)?;
    let s = serial.clone();
    blocking(&state, move |svc| {
        svc.require_admin(&who)?;
        readable(svc, &who, &s)?;
        svc.revoke_certificate(&s, &body.reason)
    })
    .await?;
    Ok(Json(json!({ "serial": serial, "revoked": true })))
}

fn parse_uuid(s: &str, code: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, code, "not a valid id"))
}

fn pack_response(pack: &Value, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.claim.json\""),
            ),
        ],
        pack.to_string(),
    )
        .into_response()
}

/// `GET /v1/classes/{id}/claim-pack` (administrators): the signed claim pack of a class.
async fn class_claim_pack(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_uuid(&id, "class.invalid_id")?;
    let pack = blocking(&state, move |svc| {
        svc.require_admin(&who)?;
        let c = svc.class_view_for(&who, id).map_err(|e| match e {
            ServiceError::Forbidden("auth.wrong_org", _) => {
                ServiceError::NotFound("class.not_found", "no such class")
            }
            e => e,
        })?;
        svc.class_claim_pack(c.id)
    })
    .await?;
    Ok(pack_response(&pack, &id.to_string()))
}

/// `GET /v1/learners/{id}/claim-pack` (administrators): the signed claim pack of one learner.
async fn learner_claim_pack(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = LearnerId(parse_uuid(&id, "learner.invalid_id")?);
    let pack = blocking(&state, move |svc| {
        svc.require_admin(&who)?;
        let l = svc.learner_for(&who, id).map_err(|e| match e {
            ServiceError::Forbidden("auth.wrong_org", _) => {
                ServiceError::NotFound("learner.not_found", "no such learner")
            }
            e => e,
        })?;
        svc.learner_claim_pack(l.id)
    })
    .await?;
    Ok(pack_response(&pack, &id.to_string()))
}

/// The learner if the caller may read them (another organisation's reads as absent).
fn readable_learner(
    svc: &Service,
    who: &crate::domain::Principal,
    id: LearnerId,
) -> ServiceResult<LearnerId> {
    svc.learner_for(who, id).map(|l| l.id).map_err(|e| match e {
        ServiceError::Forbidden("auth.wrong_org", _) => {
            ServiceError::NotFound("learner.not_found", "no such learner")
        }
        e => e,
    })
}

/// `GET /v1/learners/{id}/training-record`: the signed training record (JSON).
async fn training_record(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = LearnerId(parse_uuid(&id, "learner.invalid_id")?);
    let r = blocking(&state, move |svc| {
        let l = readable_learner(svc, &who, id)?;
        svc.training_record(l)
    })
    .await?;
    Ok(Json(r))
}

/// `GET /v1/learners/{id}/training-record/pdf`: the training record as a PDF.
async fn training_record_pdf(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = LearnerId(parse_uuid(&id, "learner.invalid_id")?);
    let bytes = blocking(&state, move |svc| {
        let l = readable_learner(svc, &who, id)?;
        svc.training_record_pdf(l)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"training-record-{id}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;\
         padding:0 1em;line-height:1.6}}.ok{{color:#075}}.bad{{color:#b00}}th{{text-align:left;\
         padding-right:1em}}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    (status, Html(html)).into_response()
}

/// `GET /verify/{serial}`: a public page in Chinese saying whether the certificate is valid.
async fn verify_page(State(state): State<AppState>, Path(serial): Path<String>) -> Response {
    if check_serial(&serial).is_err() {
        return page(
            StatusCode::BAD_REQUEST,
            "证书查验",
            "<p class=\"bad\">证书编号格式不正确。</p>",
        );
    }
    let r = blocking(&state, move |svc| svc.issued_certificate(&serial)).await;
    let c = match r {
        Ok(c) => c,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return page(
                StatusCode::NOT_FOUND,
                "证书查验",
                "<p class=\"bad\">未找到该编号的培训合格证明。</p>",
            );
        }
        Err(_) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "证书查验",
                "<p class=\"bad\">暂时无法查验，请稍后再试。</p>",
            );
        }
    };
    let f = &c.facts;
    let status = match &c.revoked {
        None => {
            "<p class=\"ok\"><strong>有效</strong>：该证明由本机构签发，签名有效，未被撤销。</p>"
                .to_owned()
        }
        Some((_, reason)) => format!(
            "<p class=\"bad\"><strong>已撤销</strong>：撤销原因：{}</p>",
            escape(reason)
        ),
    };
    let exam = f.exam.as_ref().map_or_else(
        || "—".to_owned(),
        |e| {
            format!(
                "{}/{}（{}）",
                e.score,
                e.max_score,
                if e.passed { "合格" } else { "不合格" }
            )
        },
    );
    let rows = [
        ("证书编号", f.serial.clone()),
        ("姓名", f.name.clone()),
        ("身份证号", f.national_id_masked.clone()),
        ("培训项目", f.project.clone()),
        (
            "职业（工种）",
            format!("{} {}", f.occupation_name, f.occupation_code),
        ),
        (
            "培训学时",
            format!("{}.{}", f.hours_tenths / 10, f.hours_tenths % 10),
        ),
        ("考核成绩", exam),
        ("培训时间", format!("{} 至 {}", f.start_date, f.end_date)),
        ("培训机构", f.institution.clone()),
        ("发证日期", f.issued_date.clone()),
    ];
    let table: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th>{k}</th><td>{}</td></tr>", escape(v)))
        .collect();
    page(
        StatusCode::OK,
        "培训合格证明查验",
        &format!(
            "{status}<table>{table}</table><p>离线核验：使用 <code>hearth verify-certificate</code> \
             和本机构公布的签发公钥（<a href=\"{ISSUER_PATH}\">{ISSUER_PATH}</a>）。</p>"
        ),
    )
}
