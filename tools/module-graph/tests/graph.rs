//! The graph reader on small crates written to a temporary folder: each case would read wrong
//! (a cycle missed or a false one reported) if the rule it names were not implemented.

use std::path::Path;

use hearth_module_graph::{CrateGraph, display};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn cycles_of(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    CrateGraph::load(&dir.path().join("lib.rs"))
        .unwrap()
        .cycles()
        .into_iter()
        .map(|c| c.modules.iter().map(|m| display(m)).collect())
        .collect()
}

#[test]
fn two_siblings_that_import_each_other_are_a_cycle() {
    let cycles = cycles_of(&[
        ("lib.rs", "mod a; mod b;"),
        ("a.rs", "use crate::b::B; pub struct A;"),
        (
            "b.rs",
            "pub struct B; fn f() -> crate::a::A { crate::a::A }",
        ),
    ]);
    assert_eq!(cycles, vec![vec!["a".to_owned(), "b".to_owned()]]);
}

#[test]
fn one_way_imports_are_not_a_cycle() {
    let cycles = cycles_of(&[
        ("lib.rs", "mod a; mod b;"),
        ("a.rs", "use crate::b::B; pub struct A;"),
        ("b.rs", "pub struct B;"),
    ]);
    assert!(cycles.is_empty(), "{cycles:?}");
}

#[test]
fn a_parent_and_its_child_are_one_room() {
    // The parent re-exports the child's item and the child uses the parent's type: allowed.
    let cycles = cycles_of(&[
        ("lib.rs", "mod study;"),
        (
            "study/mod.rs",
            "mod exam; pub use exam::Exam; pub struct Study;",
        ),
        ("study/exam.rs", "use super::Study; pub struct Exam(Study);"),
    ]);
    assert!(cycles.is_empty(), "{cycles:?}");
}

#[test]
fn a_cycle_through_a_re_export_is_found() {
    // store/study.rs names `crate::Study`, which lib.rs re-exports from study/mod.rs, and
    // study/mod.rs uses the store: the re-export must not hide the cycle behind the root.
    let cycles = cycles_of(&[
        ("lib.rs", "mod store; mod study; pub use study::Study;"),
        ("store/mod.rs", "pub mod study;"),
        ("store/study.rs", "pub fn save(_: &crate::Study) {}"),
        (
            "study/mod.rs",
            "pub struct Study; fn f(s: &Study) { crate::store::study::save(s) }",
        ),
    ]);
    assert_eq!(cycles, vec![vec!["store".to_owned(), "study".to_owned()]]);
}

#[test]
fn super_paths_and_three_module_circles_are_followed() {
    let cycles = cycles_of(&[
        ("lib.rs", "mod x;"),
        ("x/mod.rs", "mod a; mod b; mod c;"),
        ("x/a.rs", "use super::b::B; pub struct A;"),
        ("x/b.rs", "use super::c::C; pub struct B;"),
        ("x/c.rs", "pub struct C; type T = super::a::A;"),
    ]);
    assert_eq!(
        cycles,
        vec![vec![
            "x::a".to_owned(),
            "x::b".to_owned(),
            "x::c".to_owned()
        ]]
    );
}

#[test]
fn test_modules_may_reach_anywhere() {
    let cycles = cycles_of(&[
        ("lib.rs", "mod a; mod b;"),
        ("a.rs", "use crate::b::B; pub struct A;"),
        (
            "b.rs",
            "pub struct B;\n#[cfg(test)]\nmod tests { use crate::a::A; }\n#[cfg(test)] fn helper() -> crate::a::A { crate::a::A }",
        ),
    ]);
    assert!(cycles.is_empty(), "{cycles:?}");
}

#[test]
fn a_declared_module_without_a_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("lib.rs", "mod gone;")]);
    let err = CrateGraph::load(&dir.path().join("lib.rs")).unwrap_err();
    assert!(err.to_string().contains("`gone`"), "{err}");
}

#[test]
fn a_path_through_a_used_module_name_lands_in_the_submodule() {
    // `use crate::store;` then `store::study::save()`: the edge goes to store::study, which
    // imports study back, so the rooms `store` and `study` depend on each other.
    let cycles = cycles_of(&[
        ("lib.rs", "mod store; mod study;"),
        ("store/mod.rs", "pub mod study;"),
        (
            "store/study.rs",
            "use crate::study::Study; pub fn save(_: &Study) {}",
        ),
        (
            "study/mod.rs",
            "use crate::store; pub struct Study; fn f(s: &Study) { store::study::save(s) }",
        ),
    ]);
    assert_eq!(cycles, vec![vec!["store".to_owned(), "study".to_owned()]]);
}

#[test]
fn rooms_that_depend_on_each_other_through_their_children_are_a_cycle() {
    // No file imports a file that imports it back, but the `store` room uses the `study` room
    // (store::study names study::media) and `study` uses `store`: one circle between rooms.
    let cycles = cycles_of(&[
        ("lib.rs", "mod store; mod study;"),
        ("store/mod.rs", "pub mod study;"),
        (
            "store/study.rs",
            "use crate::study::media::Progress; pub fn save(_: &Progress) {}",
        ),
        (
            "study/mod.rs",
            "pub mod media; fn f(p: &media::Progress) { crate::store::study::save(p) }",
        ),
        ("study/media.rs", "pub struct Progress;"),
    ]);
    assert_eq!(cycles, vec![vec!["store".to_owned(), "study".to_owned()]]);
}
