//! A small W3C WebDriver client (the few endpoints the GUI tests use) over reqwest, to talk to
//! tauri-driver, which forwards to WebKitWebDriver, and to chromedriver (the console's browser
//! test). Errors carry WebDriver's own error text.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver error answer: `{"value": {"error": ..., "message": ...}}`.
#[derive(Debug, thiserror::Error)]
#[error("WebDriver {command}: {error}: {message}")]
pub struct WebDriverError {
    pub command: String,
    pub error: String,
    pub message: String,
}

/// One WebDriver session: one launch of the app.
#[derive(Debug)]
pub struct Session {
    http: reqwest::Client,
    base: String,
    id: String,
    closed: bool,
}

/// An element of the page, by its WebDriver reference.
#[derive(Clone, Debug)]
pub struct Element(String);

fn client() -> Result<reqwest::Client> {
    // reqwest is built without a default TLS provider (ring is the workspace's choice); the
    // driver speaks plain HTTP on loopback, but the client still wants a provider installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?)
}

async fn send(req: reqwest::RequestBuilder, command: &str) -> Result<Value> {
    let resp = req
        .send()
        .await
        .with_context(|| format!("WebDriver {command}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("WebDriver {command}: answer is not JSON"))?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if !status.is_success() || value.get("error").is_some() {
        let text = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        return Err(WebDriverError {
            command: command.to_owned(),
            error: text("error"),
            message: text("message"),
        }
        .into());
    }
    Ok(value)
}

impl Session {
    /// Starts a session that launches `application` (tauri-driver's `tauri:options`).
    pub async fn start(driver_url: &str, application: &std::path::Path) -> Result<Session> {
        let http = client()?;
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "tauri:options": { "application": application.display().to_string() }
                }
            }
        });
        let value = send(
            http.post(format!("{driver_url}/session")).json(&caps),
            "new session",
        )
        .await?;
        let id = value
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("new session: no sessionId in {value}"))?
            .to_owned();
        Ok(Session {
            http,
            base: format!("{driver_url}/session/{id}"),
            id,
            closed: false,
        })
    }

    /// Starts a headless Chromium session through chromedriver, with Chromium's command-line
    /// `args` (`goog:chromeOptions`).
    pub async fn start_chromium(driver_url: &str, args: &[&str]) -> Result<Session> {
        Self::start_chromium_with_prefs(driver_url, args, json!({})).await
    }

    /// As [`Session::start_chromium`], with Chromium preferences (`goog:chromeOptions.prefs`,
    /// e.g. `download.default_directory`).
    pub async fn start_chromium_with_prefs(
        driver_url: &str,
        args: &[&str],
        prefs: Value,
    ) -> Result<Session> {
        let http = client()?;
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "args": args, "prefs": prefs }
                }
            }
        });
        let value = send(
            http.post(format!("{driver_url}/session")).json(&caps),
            "new session",
        )
        .await?;
        let id = value
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("new session: no sessionId in {value}"))?
            .to_owned();
        Ok(Session {
            http,
            base: format!("{driver_url}/session/{id}"),
            id,
            closed: false,
        })
    }

    /// Opens `url` in the browser.
    pub async fn navigate(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await?;
        Ok(())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        send(
            self.http.post(format!("{}{path}", self.base)).json(&body),
            path,
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        send(self.http.get(format!("{}{path}", self.base)), path).await
    }

    /// All elements matching a CSS selector (possibly none).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        self.elements("/elements", css).await
    }

    /// Elements inside `parent` matching a CSS selector.
    pub async fn find_in(&self, parent: &Element, css: &str) -> Result<Vec<Element>> {
        self.elements(&format!("/element/{}/elements", parent.0), css)
            .await
    }

    /// Posts a CSS selector to a "find elements" endpoint and reads the list it answers.
    async fn elements(&self, path: &str, css: &str) -> Result<Vec<Element>> {
        let value = self
            .post(path, json!({"using": "css selector", "value": css}))
            .await?;
        value
            .as_array()
            .ok_or_else(|| anyhow!("elements: not a list: {value}"))?
            .iter()
            .map(element)
            .collect()
    }

    /// Waits until `css` matches an element whose text satisfies `ok`, and returns it.
    pub async fn wait_for(
        &self,
        css: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> Result<(Element, String)> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            seen.clear();
            for el in self.find_all(css).await? {
                let text = self.text(&el).await?;
                if ok(&text) {
                    return Ok((el, text));
                }
                seen.push(text);
            }
            if Instant::now() >= deadline {
                bail!("waited {timeout:?} for `{css}`; texts seen: {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, el: &Element) -> Result<String> {
        let v = self.get(&format!("/element/{}/text", el.0)).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    pub async fn click(&self, el: &Element) -> Result<()> {
        self.post(&format!("/element/{}/click", el.0), json!({}))
            .await?;
        Ok(())
    }

    pub async fn send_keys(&self, el: &Element, text: &str) -> Result<()> {
        self.post(&format!("/element/{}/value", el.0), json!({"text": text}))
            .await?;
        Ok(())
    }

    /// Runs a script in the page and returns its result.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Runs an asynchronous script in the page: it gets `args` and, last, the callback it calls
    /// with its result (WebDriver "execute async script", bounded by the session's script
    /// timeout, 30 s by default).
    pub async fn execute_async(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// Resizes the app's window (WebDriver "set window rect"); answers the size it got.
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(u64, u64)> {
        let v = self
            .post("/window/rect", json!({"width": width, "height": height}))
            .await?;
        Ok(rect_size(&v))
    }

    /// The app window's outer size (WebDriver "get window rect").
    pub async fn window_size(&self) -> Result<(u64, u64)> {
        Ok(rect_size(&self.get("/window/rect").await?))
    }

    /// The window's current content as PNG bytes.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        let v = self.get("/screenshot").await?;
        let b64 = v
            .as_str()
            .ok_or_else(|| anyhow!("screenshot: not a string"))?;
        let png = base64::engine::general_purpose::STANDARD.decode(b64)?;
        if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
            bail!("screenshot: not a PNG");
        }
        Ok(png)
    }

    /// Ends the session, which closes the app.
    pub async fn close(mut self) -> Result<()> {
        self.closed = true;
        send(self.http.delete(&self.base), "delete session").await?;
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.closed {
            // Best effort on a failing test; the driver guard kills whatever is left.
            eprintln!("WebDriver session {} dropped without close()", self.id);
        }
    }
}

fn rect_size(v: &Value) -> (u64, u64) {
    let dim = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    (dim("width"), dim("height"))
}

fn element(v: &Value) -> Result<Element> {
    v.get(ELEMENT_KEY)
        .and_then(Value::as_str)
        .map(|s| Element(s.to_owned()))
        .ok_or_else(|| anyhow!("not an element reference: {v}"))
}

/// The width and height stored in a PNG's header.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let be = |b: &[u8]| -> Option<u32> { Some(u32::from_be_bytes(b.try_into().ok()?)) };
    if png.len() < 24 || &png[12..16] != b"IHDR" {
        return None;
    }
    Some((be(&png[16..20])?, be(&png[20..24])?))
}
