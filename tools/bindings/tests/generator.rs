//! The generator on small shells written to a temporary folder.

use std::path::Path;

use hearth_bindings::{Command, Layout, capability_with, generate};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn bind(files: &[(&str, &str)]) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    let layout = Layout {
        shell_lib: dir.path().join("shell/lib.rs"),
        crates: vec![
            ("hearth_core".into(), dir.path().join("core")),
            ("hearth_desktop".into(), dir.path().join("shell")),
        ],
    };
    generate(&layout)
        .map(|b| b.typescript)
        .map_err(|e| e.to_string())
}

const LIB: &str =
    "pub mod commands;\npub fn h() { tauri::generate_handler![commands::open_lesson]; }";

fn shell_with(command: &str) -> Vec<(&'static str, String)> {
    vec![
        ("shell/lib.rs", LIB.to_owned()),
        ("shell/commands.rs", command.to_owned()),
        (
            "core/lib.rs",
            "/// A view.\n#[derive(Serialize)]\n#[serde(rename_all = \"camelCase\")]\npub struct SessionView {\n    /// Active time.\n    pub active_ms: u64,\n    #[serde(default, skip_serializing_if = \"Option::is_none\")]\n    pub exam: Option<String>,\n    #[serde(skip)]\n    pub secret: u8,\n    pub state: State,\n}\n#[derive(Serialize)]\n#[serde(rename_all = \"snake_case\")]\npub enum State { Open, PresenceCheck }\n".to_owned(),
        ),
    ]
}

fn run(files: Vec<(&'static str, String)>) -> Result<String, String> {
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    bind(&borrowed)
}

#[test]
fn a_command_becomes_a_typed_function_and_its_types_interfaces() {
    let ts = run(shell_with(
        "use hearth_core::SessionView;\n#[tauri::command]\npub fn open_lesson(hearth: State<'_, HearthState>, course_id: String, version: u32, class: Option<String>) -> Result<SessionView, CommandError> { todo!() }",
    ))
    .unwrap();
    assert!(
        ts.contains("  openLesson: (courseId: string, version: number, class_?: string | null): Promise<SessionView> => call(\"open_lesson\", { courseId, version, class: class_ }),"),
        "{ts}"
    );
    assert!(ts.contains("export interface SessionView {"), "{ts}");
    assert!(
        ts.contains("  /** Active time. */\n  activeMs: number;"),
        "{ts}"
    );
    assert!(ts.contains("  exam?: string | null;"), "{ts}");
    assert!(!ts.contains("secret"), "a skipped field is not bound: {ts}");
    assert!(
        ts.contains("export type State =\n  | \"open\"\n  | \"presence_check\";"),
        "{ts}"
    );
}

#[test]
fn changing_an_argument_type_changes_the_bindings() {
    // What `make test` relies on: the committed bindings differ from the generated ones the moment a
    // command's signature changes, so the stale check fails until they are regenerated.
    let before = run(shell_with(
        "use hearth_core::SessionView;\n#[tauri::command]\npub fn open_lesson(version: u32) -> Result<SessionView, CommandError> { todo!() }",
    ))
    .unwrap();
    let after = run(shell_with(
        "use hearth_core::SessionView;\n#[tauri::command]\npub fn open_lesson(version: String) -> Result<SessionView, CommandError> { todo!() }",
    ))
    .unwrap();
    assert!(before.contains("(version: number)"), "{before}");
    assert!(after.contains("(version: string)"), "{after}");
    assert_ne!(before, after);
}

#[test]
fn a_listed_command_that_does_not_exist_is_an_error() {
    let err = run(vec![
        ("shell/lib.rs", LIB.to_owned()),
        ("shell/commands.rs", "pub fn open_lesson() {}".to_owned()),
        ("core/lib.rs", String::new()),
    ])
    .unwrap_err();
    assert!(err.contains("open_lesson"), "{err}");
}

#[test]
fn an_unknown_serde_attribute_is_refused_not_guessed() {
    let mut files = shell_with(
        "use hearth_core::Odd;\n#[tauri::command]\npub fn open_lesson() -> Odd { todo!() }",
    );
    files[2].1 = "#[derive(Serialize)]\npub struct Odd { #[serde(flatten)] pub inner: u8 }".into();
    let err = run(files).unwrap_err();
    assert!(err.contains("flatten"), "{err}");
}

#[test]
fn capability_entries_follow_the_commands_and_keep_plugin_permissions() {
    let current = r#"{"identifier":"main","permissions":["allow-gone","dialog:allow-open","allow-open-lesson"]}"#;
    let commands = vec![
        Command {
            name: "open_lesson".into(),
            module: "commands".into(),
        },
        Command {
            name: "sync_now".into(),
            module: "commands".into(),
        },
    ];
    let out = capability_with(current, &commands).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["permissions"],
        serde_json::json!(["dialog:allow-open", "allow-open-lesson", "allow-sync-now"])
    );
}
