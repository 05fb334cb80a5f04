//! Issue #15: the web console in a real browser — headless Chromium driven over WebDriver
//! (chromedriver; both from Debian's packages) against the real `hearth-server` binary serving
//! the built console (`console/dist`, `make console`).
//!
//! An administrator signs in, previews a roster with bad rows (every reason shown, nothing
//! imported), makes a class, imports the corrected roster into it, issues the class's enrollment
//! codes and prints the sheet; the language switch turns the page English. A screenshot of each
//! page goes to docs/screenshots/console-*.png.
//!
//! Run: `make console && cargo test -p hearth-e2e --test console_browser -- --ignored`
//! (ignored by default: it needs Chromium and the built pages; `make e2e` runs it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hearth_e2e::chromium::ChromeDriver;
use hearth_e2e::service::{Service, binaries, console_dir};
use hearth_e2e::webdriver::{Session, png_size};

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "课堂 2026 password";

fn shots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
}

async fn shot(s: &Session, name: &str) -> Result<()> {
    let png = s.screenshot().await?;
    let (w, h) = png_size(&png).context("screenshot size")?;
    assert!(w >= 1000 && h >= 500, "{name}: {w}x{h}");
    let path = shots().join(format!("console-{name}.png"));
    std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

async fn fill(s: &Session, css: &str, text: &str) -> Result<()> {
    let (el, _) = s.wait_for(css, WAIT, |_| true).await?;
    s.send_keys(&el, text).await
}

async fn click(s: &Session, css: &str) -> Result<()> {
    let (el, _) = s.wait_for(css, WAIT, |_| true).await?;
    s.click(&el).await
}

/// Sets the administrator's console password through the real CLI (read from stdin).
fn set_password(svc: &Service, user: &str, login: &str) -> Result<()> {
    let mut child = Command::new(&binaries().server)
        .arg("--data")
        .arg(svc.data_dir())
        .args(["set-password", "--user", user, "--login", login])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    writeln!(child.stdin.take().context("stdin")?, "{PASSWORD}")?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("set-password: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// The `user <id>` line of add-admin / add-trainer.
fn user_id(out: &str) -> Result<String> {
    out.lines()
        .find_map(|l| l.strip_prefix("user "))
        .map(str::to_owned)
        .context("no user id printed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium, chromedriver and the built console: make e2e"]
async fn an_administrator_imports_a_roster_makes_a_class_and_prints_codes() -> Result<()> {
    if !console_dir().join("index.html").is_file() {
        bail!(
            "{} is not built: run `make console`",
            console_dir().display()
        );
    }
    let svc = Service::start()?;
    let admin = user_id(&svc.admin(&["add-admin", "--org", &svc.org, "--name", "刘主任"])?)?;
    svc.admin(&["add-trainer", "--org", &svc.org, "--name", "王老师"])?;
    set_password(&svc, &admin, "liu")?;

    let tmp = tempfile::tempdir()?;
    // Two right rows around a wrong check digit, a repeated person, a missing name and a short
    // number; then the corrected file.
    let bad = tmp.path().join("花名册-有错.csv");
    std::fs::write(
        &bad,
        "姓名,身份证号\n赵六,440524188001010014\n钱七,440524188001010015\n\
         赵六,440524188001010014\n,110105194912310038\n孙八,12345\n周九,110105194912310038\n",
    )?;
    let good = tmp.path().join("花名册.csv");
    std::fs::write(
        &good,
        "姓名,身份证号\n赵六,440524188001010014\n周九,110105194912310038\n",
    )?;

    let driver = ChromeDriver::start(&tmp.path().join("chromedriver.log"))?;
    let s = driver.session().await?;
    let base = format!("{}/console/", svc.url());
    let result = async {
        s.navigate(&base).await?;
        s.wait_for("#sign-in", WAIT, |t| t == "登录").await?;
        shot(&s, "sign-in").await?;

        // A wrong password is refused in words.
        fill(&s, "#login", "liu").await?;
        fill(&s, "#password", "not the password").await?;
        click(&s, "#sign-in").await?;
        s.wait_for("#sign-in-error", WAIT, |t| t.contains("登录名或密码不对"))
            .await?;
        fill(&s, "#password", PASSWORD).await?;
        click(&s, "#sign-in").await?;
        s.wait_for("#who", WAIT, |t| {
            t.contains("刘主任") && t.contains("管理员")
        })
        .await?;

        // The roster with bad rows: every reason shown, no import button, nothing imported.
        let input = s.wait_for("#roster-file", WAIT, |_| true).await?.0;
        s.send_keys(&input, &bad.display().to_string()).await?;
        s.wait_for("#preview-summary", WAIT, |t| t == "2 行正确，4 行有错误")
            .await?;
        let page = s
            .execute("return document.body.innerText", serde_json::json!([]))
            .await?;
        let page = page.as_str().unwrap_or_default();
        for reason in [
            "身份证号校验码不对",
            "与文件中前面的行重复",
            "缺少姓名",
            "身份证号位数或格式不对",
        ] {
            assert!(page.contains(reason), "{reason} shown in:\n{page}");
        }
        assert!(s.find_all("#import-commit").await?.is_empty());
        assert!(page.contains("还没有学员"), "nothing imported:\n{page}");
        shot(&s, "import-preview").await?;

        // A class for the roster.
        click(&s, "#nav-classes").await?;
        fill(&s, "#class-name", "电工一班").await?;
        click(&s, "#class-add").await?;
        s.wait_for("#notice", WAIT, |t| t.contains("电工一班"))
            .await?;

        // The corrected roster, into the class.
        click(&s, "#nav-learners").await?;
        s.wait_for("#import-class option", WAIT, |t| t == "电工一班")
            .await?;
        s.execute(
            "const sel = document.getElementById('import-class');
             sel.value = sel.options[1].value;
             sel.dispatchEvent(new Event('change', { bubbles: true }));",
            serde_json::json!([]),
        )
        .await?;
        let input = s.wait_for("#roster-file", WAIT, |_| true).await?.0;
        s.send_keys(&input, &good.display().to_string()).await?;
        s.wait_for("#preview-summary", WAIT, |t| t == "2 行正确，0 行有错误")
            .await?;
        click(&s, "#import-commit").await?;
        s.wait_for("#notice", WAIT, |t| t == "已导入 2 名学员")
            .await?;
        s.wait_for("#learner-count", WAIT, |t| t == "共 2 名学员")
            .await?;
        shot(&s, "learners").await?;

        click(&s, "#nav-classes").await?;
        s.wait_for("#classes td", WAIT, |t| t == "王老师").await?;
        shot(&s, "classes").await?;

        // The class's codes, on the printable sheet.
        click(&s, ".codes-for").await?;
        s.wait_for("#sheet .card .name", WAIT, |t| t == "赵六")
            .await?;
        let cards = s.find_all("#sheet .card .code").await?;
        assert_eq!(cards.len(), 2);
        for c in &cards {
            let code = s.text(c).await?;
            assert_eq!(code.len(), 14, "XXXX-XXXX-XXXX: {code}");
        }
        // Print: the browser's print dialog is asked for (recorded instead of opened, headless).
        s.execute(
            "window.__printed = 0; window.print = () => { window.__printed += 1; };",
            serde_json::json!([]),
        )
        .await?;
        click(&s, "#print").await?;
        let printed = s
            .execute("return window.__printed", serde_json::json!([]))
            .await?;
        assert_eq!(printed, 1);
        shot(&s, "codes").await?;

        // English on request.
        click(&s, "#language").await?;
        s.wait_for("#nav-codes", WAIT, |t| t == "Enrollment codes")
            .await?;

        // Signing out leaves the sign-in page, and the session is gone.
        click(&s, "#sign-out").await?;
        s.wait_for("#sign-in", WAIT, |t| t == "Sign in").await?;
        anyhow::Ok(())
    }
    .await;
    s.close().await?;
    result
}
