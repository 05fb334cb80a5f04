//! The module graph of a Rust crate, read from its sources: which module names which other
//! module. `make test` uses it to refuse import cycles (a module that imports another which
//! imports it back) and to keep the README's layout section naming every module.
//!
//! Why by hand: the tools that draw module graphs (`cargo-modules`) build on rust-analyzer and
//! take minutes to install on a fresh machine; the question asked here is narrow (paths that
//! start with `crate`, `self` or `super`), and `syn` parses those exactly.
//!
//! What counts as an edge from module A to module B: a path in A (a `use` or a path in code)
//! that resolves into B, following `pub use` re-exports to the module that defines the item.
//! Edges between a module and its own ancestors or descendants are not counted: a parent
//! declares its children and re-exports their items, and a child uses its parent's types;
//! both are one room. Inline modules belong to the file that holds them, and `#[cfg(test)]`
//! modules are left out (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use syn::visit::Visit;

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {source}")]
    Parse { path: PathBuf, source: syn::Error },
    #[error("module `{module}` declared in {parent} has no file (looked for {candidates})")]
    MissingFile {
        module: String,
        parent: PathBuf,
        candidates: String,
    },
}

/// A module's path inside its crate (`["store", "study"]`); the crate root is empty.
pub type ModPath = Vec<String>;

/// Renders a module path as Rust writes it (`store::study`, or `crate` for the root).
pub fn display(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        path.join("::")
    }
}

#[derive(Debug, Default)]
struct Module {
    /// The file-backed module this one lives in (itself unless it is inline).
    file_module: ModPath,
    file: PathBuf,
    /// Names this module re-exports (`pub use`, any visibility but private) and the absolute
    /// path of what they name.
    reexports: BTreeMap<String, ModPath>,
}

#[derive(Debug)]
struct Reference {
    /// The (possibly inline) module the path is written in.
    from: ModPath,
    /// The path, already made absolute (`crate::…` without the `crate`).
    target: ModPath,
    text: String,
}

/// One crate's modules and the references between them.
#[derive(Debug, Default)]
pub struct CrateGraph {
    modules: BTreeMap<ModPath, Module>,
    references: Vec<Reference>,
}

/// An edge of the graph with one path that makes it, for the error message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: ModPath,
    pub to: ModPath,
    pub example: String,
}

/// Modules that import each other in a circle, with the edges that close it.
#[derive(Debug, PartialEq, Eq)]
pub struct Cycle {
    pub modules: Vec<ModPath>,
    pub edges: Vec<Edge>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.modules.iter().map(|m| display(m)).collect();
        writeln!(f, "cycle between {}:", names.join(", "))?;
        for e in &self.edges {
            writeln!(
                f,
                "  {} -> {}  (via `{}`)",
                display(&e.from),
                display(&e.to),
                e.example
            )?;
        }
        Ok(())
    }
}

impl CrateGraph {
    /// Reads a crate from its root file (`src/lib.rs` or `src/main.rs`) and every module file
    /// it declares.
    pub fn load(root: &Path) -> Result<Self, GraphError> {
        let mut graph = CrateGraph::default();
        let dir = root.parent().unwrap_or(Path::new(".")).to_path_buf();
        graph.load_file(Vec::new(), root, &dir)?;
        Ok(graph)
    }

    /// Every file-backed module, in path order.
    pub fn file_modules(&self) -> Vec<(ModPath, PathBuf)> {
        self.modules
            .iter()
            .filter(|(path, m)| **path == m.file_module)
            .map(|(path, m)| (path.clone(), m.file.clone()))
            .collect()
    }

    fn load_file(
        &mut self,
        path: ModPath,
        file: &Path,
        child_dir: &Path,
    ) -> Result<(), GraphError> {
        let text = std::fs::read_to_string(file).map_err(|source| GraphError::Read {
            path: file.to_path_buf(),
            source,
        })?;
        let parsed = syn::parse_file(&text).map_err(|source| GraphError::Parse {
            path: file.to_path_buf(),
            source,
        })?;
        self.modules.insert(
            path.clone(),
            Module {
                file_module: path.clone(),
                file: file.to_path_buf(),
                reexports: BTreeMap::new(),
            },
        );
        self.load_items(&path, &path, file, child_dir, &parsed.items)
    }

    fn load_items(
        &mut self,
        path: &ModPath,
        file_module: &ModPath,
        file: &Path,
        child_dir: &Path,
        items: &[syn::Item],
    ) -> Result<(), GraphError> {
        let mut refs = PathCollector {
            module: path.clone(),
            children: items
                .iter()
                .filter_map(|item| match item {
                    syn::Item::Mod(m) => Some(m.ident.to_string()),
                    _ => None,
                })
                .collect(),
            bindings: BTreeMap::new(),
            found: Vec::new(),
            reexports: BTreeMap::new(),
        };
        // Names brought in by the module's `use` items, so that `store::study::save()` after
        // `use crate::store;` lands in `store::study`, not just `store`.
        for item in items {
            if let syn::Item::Use(u) = item
                && !is_cfg_test(&u.attrs)
            {
                refs.bind(&mut Vec::new(), &u.tree);
            }
        }
        refs.found.clear();
        for item in items {
            match item {
                syn::Item::Mod(m) if is_cfg_test(&m.attrs) => {}
                syn::Item::Mod(m) => {
                    let name = m.ident.to_string();
                    let mut child = path.clone();
                    child.push(name.clone());
                    match &m.content {
                        Some((_, inner)) => {
                            self.modules.insert(
                                child.clone(),
                                Module {
                                    file_module: file_module.clone(),
                                    file: file.to_path_buf(),
                                    reexports: BTreeMap::new(),
                                },
                            );
                            self.load_items(
                                &child,
                                file_module,
                                file,
                                &child_dir.join(&name),
                                inner,
                            )?;
                        }
                        None => {
                            let flat = child_dir.join(format!("{name}.rs"));
                            let nested = child_dir.join(&name).join("mod.rs");
                            let chosen = if flat.is_file() {
                                flat
                            } else if nested.is_file() {
                                nested
                            } else {
                                return Err(GraphError::MissingFile {
                                    module: display(&child),
                                    parent: file.to_path_buf(),
                                    candidates: format!(
                                        "{} or {}",
                                        flat.display(),
                                        nested.display()
                                    ),
                                });
                            };
                            self.load_file(child, &chosen, &child_dir.join(&name))?;
                        }
                    }
                }
                other => refs.visit_item(other),
            }
        }
        if let Some(m) = self.modules.get_mut(path) {
            m.reexports.extend(refs.reexports);
        }
        self.references.extend(refs.found);
        Ok(())
    }

    /// The file-backed module an absolute path lands in, following re-exports.
    fn resolve(&self, target: &[String]) -> ModPath {
        let mut target: ModPath = target.to_vec();
        // Re-exports can chain (`lib.rs` re-exports what `store/mod.rs` re-exports); a bound
        // keeps a re-export loop from spinning.
        for _ in 0..16 {
            let mut len = target.len();
            while len > 0 && !self.modules.contains_key(&target[..len]) {
                len -= 1;
            }
            let module = &self.modules[&target[..len]];
            match target.get(len).and_then(|name| module.reexports.get(name)) {
                Some(source) if source.as_slice() != target.as_slice() => {
                    let mut next = source.clone();
                    next.extend_from_slice(&target[len + 1..]);
                    target = next;
                }
                _ => return module.file_module.clone(),
            }
        }
        Vec::new()
    }

    /// The edges between file modules, one example path each; a module's edges to its own
    /// ancestors and descendants are left out (see the module docs).
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges: BTreeMap<(ModPath, ModPath), String> = BTreeMap::new();
        for r in &self.references {
            let from = self
                .modules
                .get(&r.from)
                .map(|m| m.file_module.clone())
                .unwrap_or_default();
            let to = self.resolve(&r.target);
            if from.starts_with(&to) || to.starts_with(&from) {
                continue;
            }
            // Below their closest common ancestor the two modules sit in sibling rooms: the
            // edge is between those rooms (`store::study` naming `study::media` makes `store`
            // depend on `study`).
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            let (from, to) = (from[..=common].to_vec(), to[..=common].to_vec());
            edges.entry((from, to)).or_insert_with(|| r.text.clone());
        }
        edges
            .into_iter()
            .map(|((from, to), example)| Edge { from, to, example })
            .collect()
    }

    /// Every set of modules that reach each other through imports.
    pub fn cycles(&self) -> Vec<Cycle> {
        let edges = self.edges();
        let mut ids: BTreeMap<&ModPath, usize> = BTreeMap::new();
        let names: Vec<&ModPath> = {
            let mut all: BTreeSet<&ModPath> = BTreeSet::new();
            for e in &edges {
                all.insert(&e.from);
                all.insert(&e.to);
            }
            all.into_iter().collect()
        };
        for (i, n) in names.iter().enumerate() {
            ids.insert(n, i);
        }
        let mut graph: DiGraphMap<usize, ()> = DiGraphMap::new();
        for e in &edges {
            graph.add_edge(ids[&e.from], ids[&e.to], ());
        }
        let mut cycles: Vec<Cycle> = tarjan_scc(&graph)
            .into_iter()
            .filter(|component| component.len() > 1)
            .map(|component| {
                let members: BTreeSet<&ModPath> = component.iter().map(|&i| names[i]).collect();
                Cycle {
                    modules: members.iter().map(|m| (*m).clone()).collect(),
                    edges: edges
                        .iter()
                        .filter(|e| members.contains(&e.from) && members.contains(&e.to))
                        .cloned()
                        .collect(),
                }
            })
            .collect();
        cycles.sort_by(|a, b| a.modules.cmp(&b.modules));
        cycles
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .map(|m| m.path().is_ident("test"))
                .unwrap_or(false)
    })
}

/// Collects the paths of one module's items (not of nested modules, which are read on their
/// own) that start with `crate`, `self` or `super`, made absolute.
struct PathCollector {
    module: ModPath,
    /// The modules declared in this one: `use exam::Exam` names `self::exam::Exam`.
    children: BTreeSet<String>,
    /// Names this module's `use` items bind, and the absolute paths they stand for.
    bindings: BTreeMap<String, ModPath>,
    found: Vec<Reference>,
    reexports: BTreeMap<String, ModPath>,
}

impl PathCollector {
    fn absolute(&self, segments: &[String]) -> Option<ModPath> {
        let mut rest = segments;
        let mut base: ModPath = match rest.first().map(String::as_str) {
            Some("crate") => {
                rest = &rest[1..];
                Vec::new()
            }
            Some("self") => {
                rest = &rest[1..];
                self.module.clone()
            }
            Some("super") => self.module.clone(),
            Some(first) if self.children.contains(first) => self.module.clone(),
            Some(first) => {
                let mut bound = self.bindings.get(first)?.clone();
                bound.extend(rest[1..].iter().cloned());
                return Some(bound);
            }
            None => return None,
        };
        while rest.first().map(String::as_str) == Some("super") {
            base.pop()?;
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn record(&mut self, segments: &[String]) {
        if let Some(target) = self.absolute(segments) {
            self.found.push(Reference {
                from: self.module.clone(),
                target,
                text: segments.join("::"),
            });
        }
    }

    /// Records what the names of a `use` tree stand for (globs bind nothing by name).
    fn bind(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.bind(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.bind_leaf(prefix, &n.ident.to_string(), None),
            syn::UseTree::Rename(r) => {
                self.bind_leaf(prefix, &r.ident.to_string(), Some(r.rename.to_string()))
            }
            syn::UseTree::Glob(_) => {}
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.bind(prefix, t);
                }
            }
        }
    }

    fn bind_leaf(&mut self, prefix: &[String], name: &str, rename: Option<String>) {
        let mut full = prefix.to_vec();
        let alias = if name == "self" {
            prefix.last().cloned()
        } else {
            full.push(name.to_owned());
            Some(name.to_owned())
        };
        if let (Some(alias), Some(target)) = (rename.or(alias), self.absolute(&full)) {
            self.bindings.insert(alias, target);
        }
    }

    /// Flattens a `use` tree into its paths; `pub use` names are remembered as re-exports.
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, public);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                self.leaf(prefix, &name, &name, public);
            }
            syn::UseTree::Rename(r) => {
                self.leaf(prefix, &r.ident.to_string(), &r.rename.to_string(), public);
            }
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t, public);
                }
            }
        }
    }

    fn leaf(&mut self, prefix: &[String], name: &str, alias: &str, public: bool) {
        let mut full = prefix.to_vec();
        if name != "self" {
            full.push(name.to_owned());
        }
        self.record(&full);
        if public && let Some(target) = self.absolute(&full) {
            let alias = if name == "self" {
                prefix.last().cloned().unwrap_or_default()
            } else {
                alias.to_owned()
            };
            self.reexports.insert(alias, target);
        }
    }
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if is_cfg_test(&u.attrs) {
            return;
        }
        let public = !matches!(u.vis, syn::Visibility::Inherited);
        self.use_tree(&mut Vec::new(), &u.tree, public);
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // Nested modules are read by `CrateGraph::load_items` with their own path.
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if !is_cfg_test(&i.attrs) {
            syn::visit::visit_item_impl(self, i);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }
}
