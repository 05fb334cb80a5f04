//! Every demo course in assets/courses publishes from its authoring layout, and what is shipped
//! to learners holds no exam key and none of the media sources.

mod common;

use std::sync::Arc;

use hearth_server::env::ManualClock;

#[test]
fn every_demo_course_publishes_without_its_exam_key() {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/courses");
    let dir = tempfile::tempdir().unwrap();
    let svc = common::open_service(dir.path(), Arc::new(ManualClock::new(1_790_000_000_000)), 3);
    let mut published = 0;
    for entry in std::fs::read_dir(&assets).unwrap() {
        let course = entry.unwrap().path();
        if !course.join("course.toml").exists() {
            continue;
        }
        let p = svc
            .publish(&course)
            .unwrap_or_else(|e| panic!("{}: {e}", course.display()));
        assert!(
            p.files >= 5,
            "{}: lessons and media are shipped",
            course.display()
        );
        let sha = svc.manifest_sha(&p.course.to_string(), p.version).unwrap();
        let signed = std::fs::read(svc.blob_path(&sha)).unwrap();
        let body =
            String::from_utf8_lossy(&signed[hearth_protocol::manifest::MANIFEST_HEADER_LEN..])
                .into_owned();
        let manifest: serde_json::Value = serde_json::from_str(&body).unwrap();
        for exam in manifest["exams"].as_array().unwrap() {
            for item in exam["items"].as_array().unwrap() {
                assert!(
                    item.get("correct").is_none(),
                    "{}: exam keys never leave the service",
                    course.display()
                );
            }
        }
        assert!(
            !manifest["exams"].as_array().unwrap().is_empty(),
            "{}: the final exam is published",
            course.display()
        );
        for f in manifest["files"].as_array().unwrap() {
            let path = f["path"].as_str().unwrap();
            assert!(
                path.starts_with("lessons/") && path.ends_with(".md") || path.starts_with("media/"),
                "{}: only lesson texts and media are shipped, not {path}",
                course.display()
            );
        }
        // Every picture a lesson text shows is among that lesson's media, so players find it.
        for lesson in manifest["lessons"].as_array().unwrap() {
            let text =
                std::fs::read_to_string(course.join(lesson["body"].as_str().unwrap())).unwrap();
            let media: Vec<&str> = lesson["media"]
                .as_array()
                .map(|m| m.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            for (i, _) in text.match_indices("](../media/") {
                let name = &text[i + "](../media/".len()..];
                let name = &name[..name.find(')').unwrap()];
                assert!(
                    media.contains(&format!("media/{name}").as_str()),
                    "{}: lesson {} shows {name} but its media are {media:?}",
                    course.display(),
                    lesson["id"]
                );
            }
        }
        published += 1;
    }
    assert!(published >= 3, "at least three demo courses");
    assert_eq!(svc.catalog().unwrap().0.courses.len(), published);
}

/// Copies a folder tree (a demo course) to `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Issue #16: `still_valid` in a course source is signed into the manifest as `stillValid`, and
/// a version that is not older is refused at publishing.
#[test]
fn a_course_source_marks_older_versions_still_valid_in_the_signed_manifest() {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/courses/electrician-safety");
    let dir = tempfile::tempdir().unwrap();
    let svc = common::open_service(dir.path(), Arc::new(ManualClock::new(1_790_000_000_000)), 3);
    let src = dir.path().join("src");
    copy_tree(&assets, &src);
    let toml = std::fs::read_to_string(src.join("course.toml")).unwrap();
    let set = |version: u32, still_valid: &str| {
        let text = toml.replacen(
            "version = 1\n",
            &format!("version = {version}\nstill_valid = {still_valid}\n"),
            1,
        );
        std::fs::write(src.join("course.toml"), text).unwrap();
    };

    set(2, "[3]");
    let e = svc.publish(&src).unwrap_err();
    assert!(e.to_string().contains("stillValid"), "{e}");

    set(2, "[1]");
    let p = svc.publish(&src).unwrap();
    let sha = svc.manifest_sha(&p.course.to_string(), p.version).unwrap();
    let signed = std::fs::read(svc.blob_path(&sha)).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&signed[hearth_protocol::manifest::MANIFEST_HEADER_LEN..]).unwrap();
    assert_eq!(manifest["version"], 2);
    assert_eq!(manifest["stillValid"], serde_json::json!([1]));
}
