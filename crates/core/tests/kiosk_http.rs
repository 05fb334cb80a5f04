//! The kiosk's HTTP calls against a canned service on 127.0.0.1: the class progress request
//! (path, credential, answer and errors) and the roster with its classes.

use std::sync::{Arc, Mutex};

use hearth_core::Enrollment;
use hearth_core::sync::http::HttpTransport;
use hearth_core::sync::{SyncTransport, TransportError};
use hearth_protocol::wire::{ClassProgress, ClassRef};
use hearth_protocol::{ClassId, LearnerId, PublicKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// A service that answers every request with one status and body, and keeps the request heads.
struct Canned {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn canned(status: u16, body: serde_json::Value) -> Canned {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let body = body.to_string();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(answer.as_bytes()).await;
        }
    });
    Canned { url, heads }
}

fn transport(url: &str) -> HttpTransport {
    HttpTransport::new(&Enrollment {
        service_url: url.into(),
        credential: "hd1_kiosk".into(),
        credential_expires_ms: i64::MAX,
        org_id: Uuid::from_u128(9).to_string(),
        org_name: "培训中心".into(),
        owner: None,
        anchor_key: PublicKey([7; 32]),
        publisher_keys: vec![],
        enrolled_ms: 0,
    })
    .unwrap()
}

#[tokio::test]
async fn class_progress_asks_for_the_class_with_the_device_credential() {
    let class = ClassId(Uuid::from_u128(50));
    let svc = canned(
        200,
        serde_json::json!({
            "classId": class.to_string(),
            "name": "电工一班",
            "learners": [],
            "attestations": [],
        }),
    )
    .await;
    let got = transport(&svc.url).class_progress(class).await.unwrap();
    assert_eq!(
        got,
        ClassProgress {
            class_id: class.to_string(),
            name: "电工一班".into(),
            learners: vec![],
            attestations: vec![],
        }
    );
    let heads = svc.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    let head = heads[0].to_ascii_lowercase();
    assert!(
        head.starts_with(&format!("get /v1/classes/{class}/progress http/1.1")),
        "{head}"
    );
    assert!(head.contains("authorization: bearer hd1_kiosk"), "{head}");
}

#[tokio::test]
async fn class_progress_reports_the_services_refusal() {
    let svc = canned(
        403,
        serde_json::json!({"code": "auth.forbidden", "message": "no"}),
    )
    .await;
    match transport(&svc.url)
        .class_progress(ClassId(Uuid::from_u128(50)))
        .await
    {
        Err(TransportError::Service { status, body }) => {
            assert_eq!((status, body.code.as_str()), (403, "auth.forbidden"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_roster_carries_each_persons_classes() {
    let (trainer, ana, bo) = (
        LearnerId(Uuid::from_u128(4)),
        LearnerId(Uuid::from_u128(1)),
        LearnerId(Uuid::from_u128(2)),
    );
    let class = |n: u128, name: &str| ClassRef {
        id: ClassId(Uuid::from_u128(n)),
        name: name.into(),
    };
    let svc = canned(
        200,
        serde_json::json!([
            {"learnerId": trainer.to_string(), "name": "王老师", "role": "trainer",
             "classes": [class(50, "电工一班"), class(51, "焊工班")]},
            {"learnerId": ana.to_string(), "name": "安娜", "role": "learner",
             "classes": [class(50, "电工一班")]},
            // An older service sends no classes at all.
            {"learnerId": bo.to_string(), "name": "博", "role": "learner"},
        ]),
    )
    .await;
    let t = transport(&svc.url);
    let roster = t.roster_with_classes().await.unwrap().unwrap();
    assert_eq!(roster.people.len(), 3);
    let classes = roster.classes.expect("the HTTP roster knows classes");
    assert_eq!(classes.len(), 2, "nobody without classes: {classes:?}");
    assert_eq!(classes[0].person, trainer);
    assert_eq!(
        classes[0].classes,
        vec![class(50, "电工一班"), class(51, "焊工班")]
    );
    assert_eq!(
        (classes[1].person, classes[1].classes.clone()),
        (ana, vec![class(50, "电工一班")])
    );
    // The plain roster call still answers the people.
    assert_eq!(t.roster().await.unwrap().unwrap(), roster.people);
}

#[tokio::test]
async fn a_roster_with_an_unknown_role_is_refused() {
    let svc = canned(
        200,
        serde_json::json!([
            {"learnerId": Uuid::from_u128(1).to_string(), "name": "x", "role": "admin"},
        ]),
    )
    .await;
    assert!(matches!(
        transport(&svc.url).roster_with_classes().await,
        Err(TransportError::Malformed(_))
    ));
}
