//! The supervisor's console API (issue #15 item 5) under `/console/api/supervisor/`: the
//! region's statistics, the learners behind any number, a learner's receipts and flags (read
//! only), and the export of any of these tables to XLSX or CSV. The same session, CSRF and bearer rules as the rest of
//! the console (`http::console::Person`); every route needs a supervisor and keeps to their
//! region (`domain::supervision`): an institution or learner of another region is answered as
//! one that does not exist.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hearth_protocol::LearnerId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::console::{Person, Q};
use super::{ApiError, AppState, blocking};
use crate::domain::ServiceError;
use crate::domain::supervision::{
    FlagFilter, GroupBy, Scope, Table, parse_receipt_cursor, to_csv, to_xlsx,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/api/supervisor/scope", get(scope))
        .route("/console/api/supervisor/stats", get(stats))
        .route("/console/api/supervisor/learners", get(learners))
        .route(
            "/console/api/supervisor/learners/{id}/receipts",
            get(receipts),
        )
        .route("/console/api/supervisor/learners/{id}/flags", get(flags))
        .route("/console/api/supervisor/export", get(export))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstitutionJson {
    id: Uuid,
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeJson {
    code: String,
    name: String,
    /// The region's code and the codes of every region below it.
    regions: Vec<String>,
    institutions: Vec<InstitutionJson>,
}

async fn scope(State(state): State<AppState>, who: Person) -> Result<Json<ScopeJson>, ApiError> {
    let user = who.user;
    let s = blocking(&state, move |svc| svc.for_reports().supervisor_scope(&user)).await?;
    Ok(Json(ScopeJson {
        code: s.region.code,
        name: s.region.name,
        regions: s.regions,
        institutions: s
            .orgs
            .into_iter()
            .map(|o| InstitutionJson {
                id: o.id,
                name: o.name,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    by: Option<String>,
    org: Option<Uuid>,
}

fn group(by: Option<&str>) -> Result<GroupBy, ServiceError> {
    GroupBy::parse(by.unwrap_or("institution"))
}

async fn stats(
    State(state): State<AppState>,
    who: Person,
    Q(q): Q<StatsQuery>,
) -> Result<Json<Table>, ApiError> {
    let user = who.user;
    let t = blocking(&state, move |svc| {
        let svc = svc.for_reports();
        let scope = svc.supervisor_scope(&user)?;
        svc.supervision_stats(&scope, group(q.by.as_deref())?, q.org)
    })
    .await?;
    Ok(Json(t))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LearnersQuery {
    by: Option<String>,
    key: String,
    /// `open`, `resolved` or a kind of flag: only the learners a flag column counts.
    flags: Option<String>,
    after: Option<LearnerId>,
    limit: Option<u32>,
}

fn learners_table(
    svc: &crate::Service,
    scope: &Scope,
    q: &LearnersQuery,
    paged: bool,
) -> Result<Table, ServiceError> {
    svc.supervision_learners(
        scope,
        group(q.by.as_deref())?,
        &q.key,
        q.flags.as_deref().map(FlagFilter::parse).transpose()?,
        q.after,
        paged.then_some(q.limit.unwrap_or(crate::domain::supervision::DEFAULT_PAGE)),
    )
}

async fn learners(
    State(state): State<AppState>,
    who: Person,
    Q(q): Q<LearnersQuery>,
) -> Result<Json<Table>, ApiError> {
    let user = who.user;
    let t = blocking(&state, move |svc| {
        let svc = svc.for_reports();
        let scope = svc.supervisor_scope(&user)?;
        learners_table(&svc, &scope, &q, true)
    })
    .await?;
    Ok(Json(t))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptsQuery {
    after: Option<String>,
    limit: Option<u32>,
}

async fn receipts(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
    Q(q): Q<ReceiptsQuery>,
) -> Result<Json<Table>, ApiError> {
    let user = who.user;
    let learner = parse_learner(&id)?;
    let t = blocking(&state, move |svc| {
        let svc = svc.for_reports();
        let scope = svc.supervisor_scope(&user)?;
        let after = q.after.as_deref().map(parse_receipt_cursor).transpose()?;
        svc.supervision_receipts(
            &scope,
            learner,
            after,
            Some(q.limit.unwrap_or(crate::domain::supervision::DEFAULT_PAGE)),
        )
    })
    .await?;
    Ok(Json(t))
}

/// `GET /console/api/supervisor/learners/{id}/flags`: the learner's flags with their evidence
/// and resolution (read only).
async fn flags(
    State(state): State<AppState>,
    who: Person,
    Path(id): Path<String>,
) -> Result<Json<Table>, ApiError> {
    let user = who.user;
    let learner = parse_learner(&id)?;
    let t = blocking(&state, move |svc| {
        let svc = svc.for_reports();
        let scope = svc.supervisor_scope(&user)?;
        svc.supervision_learner_flags(&scope, learner)
    })
    .await?;
    Ok(Json(t))
}

fn parse_learner(s: &str) -> Result<LearnerId, ServiceError> {
    Uuid::parse_str(s).map(LearnerId).map_err(|_| {
        ServiceError::Invalid(
            "request.invalid_path",
            "the learner id is not a UUID".into(),
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    /// `stats`, `learners`, `receipts` or `flags`.
    table: String,
    /// `xlsx` or `csv`.
    format: String,
    by: Option<String>,
    org: Option<Uuid>,
    key: Option<String>,
    learner: Option<String>,
    flags: Option<String>,
}

/// Any of the tables, whole (not paged), as a file to download. Each export is written to the
/// office's audit log.
async fn export(
    State(state): State<AppState>,
    who: Person,
    Q(q): Q<ExportQuery>,
) -> Result<Response, ApiError> {
    let xlsx = match q.format.as_str() {
        "xlsx" => true,
        "csv" => false,
        _ => {
            return Err(ServiceError::Invalid(
                "export.invalid_format",
                "export as xlsx or csv".into(),
            )
            .into());
        }
    };
    let (user, actor) = (who.user.clone(), who.actor());
    let (bytes, name) = blocking(&state, move |svc| {
        let reader = svc.for_reports();
        let scope = reader.supervisor_scope(&user)?;
        let table = match q.table.as_str() {
            "stats" => reader.supervision_stats(&scope, group(q.by.as_deref())?, q.org)?,
            "learners" => {
                let key = q.key.clone().ok_or_else(|| {
                    ServiceError::Invalid(
                        "export.missing_key",
                        "the learners table needs the key of a statistics row".into(),
                    )
                })?;
                learners_table(
                    &reader,
                    &scope,
                    &LearnersQuery {
                        by: q.by.clone(),
                        key,
                        flags: q.flags.clone(),
                        after: None,
                        limit: None,
                    },
                    false,
                )?
            }
            "receipts" => {
                let learner = parse_learner(q.learner.as_deref().unwrap_or(""))?;
                reader.supervision_receipts(&scope, learner, None, None)?
            }
            "flags" => {
                let learner = parse_learner(q.learner.as_deref().unwrap_or(""))?;
                reader.supervision_learner_flags(&scope, learner)?
            }
            _ => {
                return Err(ServiceError::Invalid(
                    "export.invalid_table",
                    "export the stats, learners, receipts or flags table".into(),
                ));
            }
        };
        let bytes = if xlsx {
            to_xlsx(&table)?
        } else {
            to_csv(&table)?
        };
        svc.audit(
            user.org,
            actor,
            "supervision.export",
            json!({
                "table": q.table, "format": q.format, "by": q.by, "org": q.org,
                "key": q.key, "learner": q.learner, "flags": q.flags,
                "rows": table.rows.len(),
            }),
        )?;
        Ok((bytes, format!("hearth-{}-{}", q.table, scope.region.code)))
    })
    .await?;
    let (ct, ext) = if xlsx {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
