//! Signing in to the web console from a test, as a browser does.

use serde_json::{Value, json};

/// A person signed in to the console: the session cookie (`name=value`, as a `Cookie` header
/// sends it) and the anti-forgery token every change must carry.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// Signs `login` in with `password` at `sign_in_url` (the service's `/console/api/sign-in`);
/// the sign-in must succeed.
pub async fn sign_in(
    http: &reqwest::Client,
    sign_in_url: String,
    login: &str,
    password: &str,
) -> Session {
    let res = http
        .post(sign_in_url)
        .json(&json!({ "login": login, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "signing in as {login}");
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    Session {
        cookie,
        csrf: body["csrfToken"].as_str().unwrap().to_owned(),
    }
}
