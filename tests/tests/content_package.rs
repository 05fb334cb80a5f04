//! Course packages end to end, through the real binaries: `hearth-server export-package` writes
//! a published course as one file; `hearth import-course` installs it on an enrolled device
//! with no network use for content; `hearth export-course` writes the same bytes again from the
//! device, and a second device imports that copy. Lessons, quizzes, exams and every media file
//! are identical to a device that downloaded the course from the service. A package from
//! another service (another publisher key) is refused.

use std::path::Path;
use std::process::{Command, Output};

use hearth_core::content::{DownloadOptions, HttpSource};
use hearth_core::{Env, Hearth};
use hearth_e2e::service::{Service, binaries};
use hearth_protocol::CourseId;

const COURSE: &str = "hygiene-basics";

fn course_source(dir: &Path, seed: u8) {
    std::fs::create_dir_all(dir.join("lessons")).unwrap();
    std::fs::create_dir_all(dir.join("media")).unwrap();
    std::fs::write(dir.join("lessons/l1.md"), "# 洗手\n\n七步洗手法。\n").unwrap();
    std::fs::write(dir.join("lessons/l2.md"), "# 口罩\n\n正确佩戴口罩。\n").unwrap();
    let noise = |len: usize, k: u8| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(k) ^ (i >> 9) as u8)
            .collect()
    };
    std::fs::write(dir.join("media/wash.mp4"), noise(700_000, seed)).unwrap();
    std::fs::write(dir.join("media/mask.mp3"), noise(200_000, seed + 1)).unwrap();
    std::fs::write(dir.join("media/poster.png"), noise(30_000, seed + 2)).unwrap();
    std::fs::write(
        dir.join("course.toml"),
        format!(
            r#"id = "{COURSE}"
version = 1
title = "卫生与防疫基础"

[durations]
"media/wash.mp4" = 40
"media/mask.mp3" = 30

[[lessons]]
id = "l1"
title = "洗手"
body = "lessons/l1.md"
media = ["media/wash.mp4", "media/poster.png"]
credit_minutes = 5

[[lessons]]
id = "l2"
title = "口罩"
body = "lessons/l2.md"
media = ["media/mask.mp3", "media/poster.png"]
credit_minutes = 5

[[quizzes]]
id = "l1-quiz"
lesson = "l1"
  [[quizzes.items]]
  id = "q1"
  prompt = "洗手至少多少秒？"
  options = ["5", "20"]
  correct = [1]

[[exams]]
id = "final"
title = "结业考试"
duration_minutes = 10
pass_percent = 60
  [[exams.items]]
  id = "e1"
  prompt = "口罩应遮住什么？"
  options = ["口鼻", "眼睛"]
  correct = [0]
"#
        ),
    )
    .unwrap();
}

fn published(seed: u8) -> Service {
    let svc = Service::start().unwrap();
    let src = tempfile::tempdir().unwrap();
    course_source(src.path(), seed);
    let out = svc
        .admin(&["publish", src.path().to_str().unwrap()])
        .unwrap();
    assert!(out.starts_with("published"), "{out}");
    svc
}

fn hearth(data: &Path, args: &[&str]) -> Output {
    Command::new(&binaries().client)
        .arg("--data")
        .arg(data)
        .args(args)
        .env("HEARTH_LOG", "error")
        .output()
        .unwrap()
}

fn ok(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn enroll(svc: &Service, data: &Path) {
    let code = svc.enrollment_code(None).unwrap();
    ok(hearth(
        data,
        &["--json", "enroll", "--service", &svc.url(), "--code", &code],
    ));
}

/// Everything a learner sees of the course, and every media file's bytes.
fn content(data: &Path) -> String {
    let h = Hearth::open(data, Env::system()).unwrap();
    let id = CourseId::new(COURSE).unwrap();
    let mut out = String::new();
    let mut c = h.installed_course(&id, 1).unwrap();
    c.installed_ms = 0;
    out += &serde_json::to_string(&c).unwrap();
    for l in &c.lessons {
        let text = h.lesson(&id, 1, &l.id).unwrap();
        out += &serde_json::to_string(&text).unwrap();
        out += &serde_json::to_string(&h.quiz_items(&id, 1, &l.id).unwrap()).unwrap();
        for m in &text.media {
            let bytes = std::fs::read(h.media_path(&m.sha256).unwrap()).unwrap();
            out += &format!("{} {}\n", m.path, hearth_protocol::ContentHash::of(&bytes));
        }
    }
    out += &serde_json::to_string(&h.exams(&id, 1).unwrap()).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_export_imports_and_travels_on_between_devices() {
    let svc = published(1);
    let usb = tempfile::tempdir().unwrap();
    let pkg = usb.path().join("hygiene.hcp");
    let out = svc
        .admin(&["export-package", COURSE, "--out", pkg.to_str().unwrap()])
        .unwrap();
    assert!(
        out.starts_with("exported hygiene-basics version 1"),
        "{out}"
    );
    let original = std::fs::read(&pkg).unwrap();

    // The reference: a device that downloads the course from the service.
    let down = tempfile::tempdir().unwrap();
    enroll(&svc, down.path());
    {
        let mut h = Hearth::open(down.path(), Env::system()).unwrap();
        let src = HttpSource::new(&h.enrollment().unwrap().unwrap()).unwrap();
        let id = CourseId::new(COURSE).unwrap();
        h.download_course(&src, &id, 1, DownloadOptions::default(), &mut |_| {})
            .await
            .unwrap();
    }

    // Device A imports the service's package from the stick.
    let a = tempfile::tempdir().unwrap();
    enroll(&svc, a.path());
    let imported = ok(hearth(
        a.path(),
        &["--json", "import-course", pkg.to_str().unwrap()],
    ));
    assert_eq!(imported["course"], COURSE);
    assert_eq!(imported["lessons"], 2);
    let listed = ok(hearth(a.path(), &["--json", "courses"]));
    assert_eq!(listed["installed"][0]["course"], COURSE);
    assert_eq!(listed["installed"][0]["totalSize"], imported["totalSize"]);
    assert!(listed["cacheBytes"].as_u64().unwrap() >= 930_000);
    assert_eq!(content(a.path()), content(down.path()));

    // A exports it again: the very same bytes. Device B imports that copy.
    let copy = usb.path().join("copy.hcp");
    let exported = ok(hearth(
        a.path(),
        &[
            "--json",
            "export-course",
            COURSE,
            "--to",
            copy.to_str().unwrap(),
        ],
    ));
    assert_eq!(exported["bytes"], original.len() as u64);
    assert_eq!(std::fs::read(&copy).unwrap(), original);
    let b = tempfile::tempdir().unwrap();
    enroll(&svc, b.path());
    ok(hearth(b.path(), &["import-course", copy.to_str().unwrap()]));
    assert_eq!(content(b.path()), content(down.path()));

    // Another service's package (another publisher key) is refused on these devices.
    let other = published(2);
    let foreign = usb.path().join("foreign.hcp");
    other
        .admin(&[
            "export-package",
            COURSE,
            "--version",
            "1",
            "--out",
            foreign.to_str().unwrap(),
        ])
        .unwrap();
    let c = tempfile::tempdir().unwrap();
    enroll(&svc, c.path());
    let out = hearth(c.path(), &["import-course", foreign.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error[manifest.unknown_publisher]"),
        "{err}"
    );
    let listed = ok(hearth(c.path(), &["--json", "courses"]));
    assert_eq!(listed["installed"], serde_json::json!([]));
    assert_eq!(listed["cacheBytes"], 0);

    // A version that is not published.
    let err = svc
        .admin(&["export-package", COURSE, "--version", "9", "--out", "x.hcp"])
        .unwrap_err();
    assert!(err.to_string().contains("course.not_found"), "{err}");
}
