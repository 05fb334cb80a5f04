//! Build script of hearth-desktop. The package's manifest is the repository root (it is also the
//! workspace), so tauri-build finds `tauri.conf.json` there; capabilities live in
//! `src-tauri/capabilities/`.

/// The commands the UI may call: the names in `generate_handler![...]` in src-tauri/src/lib.rs,
/// the one place a command is registered. tauri-build generates an `allow-<command>` permission
/// for each, and only those granted in src-tauri/capabilities/ are reachable from the web view
/// (tools/bindings keeps main.json's entries equal to this list, and the UI's bindings too).
fn handler_commands() -> Vec<String> {
    let lib = std::fs::read_to_string("src-tauri/src/lib.rs").expect("src-tauri/src/lib.rs");
    let start = lib
        .find("generate_handler![")
        .expect("src-tauri/src/lib.rs registers its commands with generate_handler![...]")
        + "generate_handler![".len();
    let end = start
        + lib[start..]
            .find(']')
            .expect("generate_handler![ is closed");
    lib[start..end]
        .split(',')
        .map(|path| {
            path.trim()
                .rsplit("::")
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

fn main() {
    // generate_context! embeds ui/dist when this crate compiles; rebuild it when the UI changes.
    println!("cargo:rerun-if-changed=ui/dist");
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=src-tauri/src/lib.rs");
    // tauri-build keeps the list for the whole build: a build script runs once, so leaking the
    // few names it reads is the plain way to give it the `'static` slice it asks for.
    let commands: &'static [&'static str] = Vec::leak(
        handler_commands()
            .into_iter()
            .map(|name| &*String::leak(name))
            .collect(),
    );
    if !std::path::Path::new("ui/dist/index.html").exists() {
        panic!(
            "ui/dist/index.html is missing: build the UI first (`make ui`, or `npm --prefix ui ci && npm --prefix ui run build`)"
        );
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri-build failed");
}
