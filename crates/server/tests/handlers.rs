//! Handler tests without a socket: the router driven directly with `tower::ServiceExt::oneshot`.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use hearth_server::Limits;
use hearth_server::env::ManualClock;
use tower::ServiceExt;

async fn call(app: axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_route_and_errors_are_error_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let svc = open_service(dir.path(), Arc::new(ManualClock::new(T0)), 1);
    let app = hearth_server::router(svc, Limits::default());
    let (s, doc) = call(
        app.clone(),
        Request::get("/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    // Every route the router declares (read from its source, so a new route cannot be missed).
    let router_src = include_str!("../src/http/mod.rs");
    let routes: Vec<&str> = router_src
        .split('"')
        .chain(include_str!("../src/http/photos.rs").split('"'))
        .filter(|s| s.starts_with("/v1/"))
        .collect();
    assert!(routes.len() >= 15, "routes found: {routes:?}");
    // The console's routes (issue #15), from their own module.
    let console_src = concat!(
        include_str!("../src/http/console.rs"),
        include_str!("../src/http/console_admin.rs"),
        include_str!("../src/http/console_claims.rs"),
        include_str!("../src/http/photos.rs")
    );
    let console: Vec<&str> = console_src
        .split('"')
        .filter(|s| s.starts_with("/console/api/"))
        .collect();
    assert!(console.len() >= 18, "console routes found: {console:?}");
    // And the supervisor's, from theirs.
    let supervisor_src = include_str!("../src/http/console_supervisor.rs");
    let supervisor: Vec<&str> = supervisor_src
        .split('"')
        .filter(|s| s.starts_with("/console/api/supervisor/"))
        .collect();
    assert!(
        supervisor.len() >= 5,
        "supervisor routes found: {supervisor:?}"
    );
    let routes: Vec<&str> = routes
        .into_iter()
        .chain(console)
        .chain(supervisor)
        .collect();
    for p in routes {
        assert!(paths.contains_key(p), "{p} is documented");
    }
    let (s, b) = call(
        app.clone(),
        Request::delete("/v1/enroll").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(b["code"], "method_not_allowed");
    let (s, b) = call(
        app.clone(),
        Request::get("/v1/anchor")
            .header("authorization", "Basic abc")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["code"], "auth.missing_credential");
    let (s, b) = call(
        app,
        Request::post("/v1/enroll")
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(Body::from(gzip(b"{\"code\":\"X\"}")[..10].to_vec()))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["code"], "request.bad_encoding");
}
