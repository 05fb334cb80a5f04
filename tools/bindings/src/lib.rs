//! The desktop app's commands as the UI sees them, generated from their one declaration in Rust.
//!
//! A command is declared once: a `#[tauri::command]` function, listed in the shell's
//! `generate_handler!` (src-tauri/src/lib.rs). From that list and the functions' signatures this
//! crate writes
//!
//! - `ui/src/generated/bindings.ts`: a TypeScript interface for every type a command takes or
//!   returns (following their serde attributes), and the `api` object with one typed function per
//!   command;
//! - the `allow-<command>` entries of `src-tauri/capabilities/main.json` (other entries, such as
//!   a plugin's permissions, are kept as they are).
//!
//! The shell's build script reads the same `generate_handler!` list for tauri-build, so adding a
//! command is writing the function and naming it in that list; `make test` fails while the
//! committed bindings or capability entries are stale (`tests/stale.rs`), and
//! `HEARTH_WRITE_BINDINGS=1 cargo test -p hearth-bindings` rewrites them.
//!
//! Why by hand: tauri-specta (with specta) is the library for this, but in its current release
//! candidates it refuses every `u64`/`i64` field unless each one is annotated or remapped, and it
//! needs derives on the types of the pure protocol crate. The serde subset the shell's types use
//! (`rename_all`, `rename`, `skip`, `skip_serializing_if`, `default`, `transparent`, tagged
//! enums) is small, and anything outside it is refused with an error naming the type, so the
//! generator never guesses.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::punctuated::Punctuated;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {source}")]
    Parse { path: PathBuf, source: syn::Error },
    #[error("no `generate_handler![...]` in {0}")]
    NoHandler(PathBuf),
    #[error(
        "command `{0}` is listed in generate_handler! but no `#[tauri::command] fn {0}` was found in {1}"
    )]
    NoCommand(String, PathBuf),
    #[error("type `{name}` (used by {used_by}) is not defined in the indexed crates")]
    UnknownType { name: String, used_by: String },
    #[error("type `{name}` is defined more than once ({candidates}); qualify it where it is used")]
    Ambiguous { name: String, candidates: String },
    #[error("two different types are both named `{0}` in the bindings; rename one")]
    NameClash(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the capability file is not a JSON object with a `permissions` array: {0}")]
    Capability(String),
}

/// Where the sources are: the shell's `lib.rs` (with `generate_handler!`) and the crates whose
/// types the commands carry, by the name other crates `use` them under.
#[derive(Clone, Debug)]
pub struct Layout {
    pub shell_lib: PathBuf,
    pub crates: Vec<(String, PathBuf)>,
}

impl Layout {
    /// The repository's own layout.
    pub fn of_repository(root: &Path) -> Self {
        Self {
            shell_lib: root.join("src-tauri/src/lib.rs"),
            crates: vec![
                ("hearth_protocol".into(), root.join("crates/protocol/src")),
                ("hearth_core".into(), root.join("crates/core/src")),
                ("hearth_desktop".into(), root.join("src-tauri/src")),
            ],
        }
    }
}

/// One command: its Rust name (what `invoke` sends) and the module it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub name: String,
    pub module: String,
}

impl Command {
    /// The permission tauri-build generates for it.
    pub fn permission(&self) -> String {
        format!("allow-{}", self.name.replace('_', "-"))
    }
}

#[derive(Debug)]
pub struct Bindings {
    pub commands: Vec<Command>,
    pub typescript: String,
}

/// Macros of hearth-protocol that define identifier types serialised as strings.
const STRING_MACROS: &[&str] = &["digest_type", "uuid_type", "slug_type"];
/// Types from outside the indexed crates, by their last path segment.
const EXTERNAL: &[(&str, &str)] = &[
    ("Uuid", "string"),
    ("PathBuf", "string"),
    ("Value", "unknown"),
];
/// Arguments Tauri fills in itself: not part of what the UI sends.
const INJECTED: &[&str] = &["State", "AppHandle", "Window", "WebviewWindow", "Webview"];
const TS_RESERVED: &[&str] = &[
    "class",
    "function",
    "default",
    "delete",
    "new",
    "switch",
    "case",
    "var",
    "let",
    "const",
    "enum",
    "export",
    "import",
    "in",
    "instanceof",
    "typeof",
    "void",
    "with",
    "yield",
    "this",
];

/// The commands named in the shell's `generate_handler![...]`, in order.
pub fn handler_commands(shell_lib: &Path) -> Result<Vec<Command>, BindError> {
    let file = parse_file(shell_lib)?;
    let mut found = None;
    find_handler(&file.items, &mut found);
    let mac = found.ok_or_else(|| BindError::NoHandler(shell_lib.to_path_buf()))?;
    let paths = mac
        .parse_body_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        .map_err(|source| BindError::Parse {
            path: shell_lib.to_path_buf(),
            source,
        })?;
    Ok(paths
        .iter()
        .map(|p| {
            let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            Command {
                name: segs.last().cloned().unwrap_or_default(),
                module: segs[..segs.len().saturating_sub(1)].join("::"),
            }
        })
        .collect())
}

fn find_handler(items: &[syn::Item], found: &mut Option<syn::Macro>) {
    struct Finder<'a>(&'a mut Option<syn::Macro>);
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            if m.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "generate_handler")
            {
                *self.0 = Some(m.clone());
            }
        }
    }
    let mut finder = Finder(found);
    for item in items {
        syn::visit::Visit::visit_item(&mut finder, item);
    }
}

fn parse_file(path: &Path) -> Result<syn::File, BindError> {
    let text = std::fs::read_to_string(path).map_err(|source| BindError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    syn::parse_file(&text).map_err(|source| BindError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

#[derive(Debug)]
struct SourceFile {
    path: PathBuf,
    krate: String,
    /// Names the file's `use` items bind, and the path each stands for.
    uses: HashMap<String, Vec<String>>,
}

#[derive(Debug)]
enum DefKind {
    Struct(syn::ItemStruct),
    Enum(syn::ItemEnum),
    Alias(syn::Type),
    Opaque(&'static str),
}

#[derive(Debug)]
struct Def {
    file: usize,
    kind: DefKind,
}

/// Every type defined in the indexed crates, by name.
#[derive(Debug, Default)]
struct Index {
    files: Vec<SourceFile>,
    defs: HashMap<String, Vec<Def>>,
}

impl Index {
    fn build(crates: &[(String, PathBuf)]) -> Result<Self, BindError> {
        let mut index = Index::default();
        for (krate, dir) in crates {
            let mut paths = Vec::new();
            rust_files(dir, &mut paths)?;
            paths.sort();
            for path in paths {
                let file = parse_file(&path)?;
                let mut uses = HashMap::new();
                for item in &file.items {
                    if let syn::Item::Use(u) = item {
                        flatten_use(&mut Vec::new(), &u.tree, &mut uses);
                    }
                }
                let id = index.files.len();
                index.files.push(SourceFile {
                    path: path.clone(),
                    krate: krate.clone(),
                    uses,
                });
                index.add_items(id, &file.items);
            }
        }
        Ok(index)
    }

    fn add_items(&mut self, file: usize, items: &[syn::Item]) {
        for item in items {
            let (name, kind) = match item {
                syn::Item::Struct(s) if !is_cfg_test(&s.attrs) => {
                    (s.ident.to_string(), DefKind::Struct(s.clone()))
                }
                syn::Item::Enum(e) if !is_cfg_test(&e.attrs) => {
                    (e.ident.to_string(), DefKind::Enum(e.clone()))
                }
                syn::Item::Type(t) => (t.ident.to_string(), DefKind::Alias((*t.ty).clone())),
                syn::Item::Macro(m) => {
                    let defines_string = m
                        .mac
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| STRING_MACROS.iter().any(|n| s.ident == *n));
                    if !defines_string {
                        continue;
                    }
                    // The defined name is the last identifier of the invocation (after its docs).
                    let Some(name) = m
                        .mac
                        .tokens
                        .clone()
                        .into_iter()
                        .filter_map(|t| match t {
                            proc_macro2::TokenTree::Ident(i) => Some(i.to_string()),
                            _ => None,
                        })
                        .last()
                    else {
                        continue;
                    };
                    (name, DefKind::Opaque("string"))
                }
                syn::Item::Mod(m) if !is_cfg_test(&m.attrs) => {
                    if let Some((_, inner)) = &m.content {
                        self.add_items(file, inner);
                    }
                    continue;
                }
                _ => continue,
            };
            self.defs.entry(name).or_default().push(Def { file, kind });
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BindError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BindError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| BindError::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn flatten_use(
    prefix: &mut Vec<String>,
    tree: &syn::UseTree,
    out: &mut HashMap<String, Vec<String>>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(prefix, &p.tree, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut full = prefix.clone();
            full.push(n.ident.to_string());
            out.insert(n.ident.to_string(), full);
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix.clone();
            full.push(r.ident.to_string());
            out.insert(r.rename.to_string(), full);
        }
        syn::UseTree::Glob(_) => {}
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(prefix, t, out);
            }
        }
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

fn docs(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().replace("*/", "* /")),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn write_docs(out: &mut String, indent: &str, lines: &[String]) {
    match lines {
        [] => {}
        [one] => {
            let _ = writeln!(out, "{indent}/** {one} */");
        }
        many => {
            let _ = writeln!(out, "{indent}/**");
            for l in many {
                if l.is_empty() {
                    let _ = writeln!(out, "{indent} *");
                } else {
                    let _ = writeln!(out, "{indent} * {l}");
                }
            }
            let _ = writeln!(out, "{indent} */");
        }
    }
}

/// The serde attributes the generator understands.
#[derive(Debug, Default)]
struct Serde {
    rename: Option<String>,
    rename_all: Option<String>,
    tag: Option<String>,
    content: Option<String>,
    untagged: bool,
    transparent: bool,
    skip: bool,
    optional: bool,
}

fn serde_attrs(attrs: &[syn::Attribute], owner: &str) -> Result<Serde, BindError> {
    let mut s = Serde::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let string = || -> syn::Result<String> {
                Ok(meta.value()?.parse::<syn::LitStr>()?.value())
            };
            match key.as_str() {
                "rename" => s.rename = Some(string()?),
                "rename_all" => s.rename_all = Some(string()?),
                "tag" => s.tag = Some(string()?),
                "content" => s.content = Some(string()?),
                "untagged" => s.untagged = true,
                "transparent" => s.transparent = true,
                "skip" | "skip_serializing" => s.skip = true,
                "skip_serializing_if" => {
                    string()?;
                    s.optional = true;
                }
                "default" => {
                    if meta.input.peek(syn::Token![=]) {
                        string()?;
                    }
                    s.optional = true;
                }
                "deny_unknown_fields" | "skip_deserializing" => {}
                other => {
                    return Err(meta.error(format!(
                        "serde attribute `{other}` on {owner} is not understood by the bindings generator"
                    )));
                }
            }
            Ok(())
        })
        .map_err(|e| BindError::Unsupported(e.to_string()))?;
    }
    Ok(s)
}

fn split_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in name.chars() {
        if c == '_' {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
        } else if c.is_uppercase() && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
            cur.extend(c.to_lowercase());
        } else {
            cur.extend(c.to_lowercase());
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A field or variant name under a serde `rename_all` rule.
fn rename(name: &str, rule: Option<&str>) -> Result<String, BindError> {
    let words = split_words(name);
    Ok(match rule {
        None => name.to_owned(),
        Some("camelCase") => words
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 { w.clone() } else { capitalize(w) })
            .collect(),
        Some("PascalCase") => words.iter().map(|w| capitalize(w)).collect(),
        Some("snake_case") => words.join("_"),
        Some("SCREAMING_SNAKE_CASE") => words.join("_").to_uppercase(),
        Some("kebab-case") => words.join("-"),
        Some("lowercase") => words.concat(),
        Some("UPPERCASE") => words.concat().to_uppercase(),
        Some(other) => {
            return Err(BindError::Unsupported(format!(
                "rename_all = \"{other}\" is not understood by the bindings generator"
            )));
        }
    })
}

fn quote_key(key: &str) -> String {
    let plain = key.chars().enumerate().all(|(i, c)| {
        c == '_' || c == '$' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
    });
    if plain && !key.is_empty() {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

struct Generator<'a> {
    index: &'a Index,
    /// Types to declare, by their TypeScript name, with the definition each stands for.
    declared: BTreeMap<String, (usize, usize)>,
    pending: Vec<(String, usize, usize)>,
}

impl<'a> Generator<'a> {
    /// The definition a path names, seen from `file`.
    fn resolve(
        &self,
        path: &syn::Path,
        file: usize,
        used_by: &str,
    ) -> Result<Option<(String, usize)>, BindError> {
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let name = segs.last().cloned().unwrap_or_default();
        let here = &self.index.files[file];
        let origin: Option<String> = if segs.len() > 1 {
            Some(segs[0].clone())
        } else {
            here.uses.get(&name).and_then(|p| p.first().cloned())
        };
        // `crate::`, `self::`, `super::`, or a path through a child module (`session::X`) stay
        // in this crate; a known crate's name goes there; any other first segment is an
        // external crate unless this crate defines the name.
        let (krate, maybe_external) = match origin.as_deref() {
            Some("crate" | "super" | "self") | None => (here.krate.clone(), false),
            Some(c) if self.index.files.iter().any(|f| f.krate == c) => (c.to_owned(), false),
            Some(_) => (here.krate.clone(), true),
        };
        let Some(defs) = self.index.defs.get(&name) else {
            return Ok(None);
        };
        if maybe_external && !defs.iter().any(|d| self.index.files[d.file].krate == krate) {
            return Ok(None);
        }
        let in_crate: Vec<usize> = defs
            .iter()
            .enumerate()
            .filter(|(_, d)| self.index.files[d.file].krate == krate)
            .map(|(i, _)| i)
            .collect();
        let chosen: Vec<usize> = if in_crate.is_empty() {
            (0..defs.len()).collect()
        } else {
            in_crate
        };
        match chosen.as_slice() {
            [one] => Ok(Some((name, *one))),
            many => {
                // Prefer a definition in the very file that names the type.
                if let Some(i) = many.iter().find(|&&i| defs[i].file == file) {
                    return Ok(Some((name, *i)));
                }
                Err(BindError::Ambiguous {
                    candidates: many
                        .iter()
                        .map(|&i| self.index.files[defs[i].file].path.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    name: format!("{name} (used by {used_by})"),
                })
            }
        }
    }

    fn generic_args(seg: &syn::PathSegment) -> Vec<&syn::Type> {
        match &seg.arguments {
            syn::PathArguments::AngleBracketed(a) => a
                .args
                .iter()
                .filter_map(|g| match g {
                    syn::GenericArgument::Type(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The TypeScript for a Rust type seen from `file`.
    fn ts(&mut self, ty: &syn::Type, file: usize, used_by: &str) -> Result<String, BindError> {
        Ok(match ty {
            syn::Type::Reference(r) => self.ts(&r.elem, file, used_by)?,
            syn::Type::Paren(p) => self.ts(&p.elem, file, used_by)?,
            syn::Type::Group(g) => self.ts(&g.elem, file, used_by)?,
            syn::Type::Tuple(t) if t.elems.is_empty() => "null".to_owned(),
            syn::Type::Tuple(t) => {
                let parts: Result<Vec<_>, _> =
                    t.elems.iter().map(|e| self.ts(e, file, used_by)).collect();
                format!("[{}]", parts?.join(", "))
            }
            syn::Type::Array(a) => array_of(&self.ts(&a.elem, file, used_by)?),
            syn::Type::Slice(s) => array_of(&self.ts(&s.elem, file, used_by)?),
            syn::Type::Path(p) if p.qself.is_none() => {
                let seg = p.path.segments.last().ok_or_else(|| {
                    BindError::Unsupported(format!("an empty type path in {used_by}"))
                })?;
                let name = seg.ident.to_string();
                let args = Self::generic_args(seg);
                match (name.as_str(), args.as_slice()) {
                    ("String" | "str" | "char", _) => "string".to_owned(),
                    ("bool", _) => "boolean".to_owned(),
                    (
                        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64"
                        | "isize" | "f32" | "f64",
                        _,
                    ) => "number".to_owned(),
                    ("Option", [inner]) => format!("{} | null", self.ts(inner, file, used_by)?),
                    ("Vec" | "VecDeque" | "HashSet" | "BTreeSet", [inner]) => {
                        array_of(&self.ts(inner, file, used_by)?)
                    }
                    ("Box" | "Arc" | "Rc" | "Cow", [inner]) => self.ts(inner, file, used_by)?,
                    ("HashMap" | "BTreeMap", [_, value]) => {
                        format!("Record<string, {}>", self.ts(value, file, used_by)?)
                    }
                    _ => match self.resolve(&p.path, file, used_by)? {
                        Some((name, def)) => self.named(&name, def, used_by)?,
                        None => match EXTERNAL.iter().find(|(n, _)| *n == name) {
                            Some((_, ts)) => (*ts).to_owned(),
                            None => {
                                return Err(BindError::UnknownType {
                                    name,
                                    used_by: used_by.to_owned(),
                                });
                            }
                        },
                    },
                }
            }
            other => {
                return Err(BindError::Unsupported(format!(
                    "the type `{}` in {used_by} is not understood by the bindings generator",
                    other.to_token_stream()
                )));
            }
        })
    }

    /// A reference to a named definition: aliases and opaque types inline, structs and enums by
    /// name (declared once).
    fn named(&mut self, name: &str, def: usize, used_by: &str) -> Result<String, BindError> {
        let d = &self.index.defs[name][def];
        match &d.kind {
            DefKind::Opaque(ts) => Ok((*ts).to_owned()),
            DefKind::Alias(ty) => {
                let ty = ty.clone();
                self.ts(&ty, d.file, used_by)
            }
            DefKind::Struct(_) | DefKind::Enum(_) => {
                match self.declared.get(name) {
                    Some(&(_, existing)) if existing != def => {
                        return Err(BindError::NameClash(name.to_owned()));
                    }
                    Some(_) => {}
                    None => {
                        self.declared.insert(name.to_owned(), (d.file, def));
                        self.pending.push((name.to_owned(), d.file, def));
                    }
                }
                Ok(name.to_owned())
            }
        }
    }

    fn fields(
        &mut self,
        fields: &syn::FieldsNamed,
        rule: Option<&str>,
        file: usize,
        owner: &str,
        indent: &str,
    ) -> Result<String, BindError> {
        let mut out = String::new();
        for f in &fields.named {
            let ident = f
                .ident
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let ident = ident.trim_start_matches("r#").to_owned();
            let attrs = serde_attrs(&f.attrs, &format!("{owner}.{ident}"))?;
            if attrs.skip {
                continue;
            }
            let key = match attrs.rename {
                Some(r) => r,
                None => rename(&ident, rule)?,
            };
            let ty = self.ts(&f.ty, file, &format!("{owner}.{ident}"))?;
            write_docs(&mut out, indent, &docs(&f.attrs));
            let opt = if attrs.optional { "?" } else { "" };
            let _ = writeln!(out, "{indent}{}{opt}: {ty};", quote_key(&key));
        }
        Ok(out)
    }

    fn declare(&mut self, name: &str, file: usize, def: usize) -> Result<String, BindError> {
        let d = &self.index.defs[name][def];
        let mut out = String::new();
        match &d.kind {
            DefKind::Struct(s) => {
                let s = s.clone();
                if !s.generics.params.is_empty() {
                    return Err(BindError::Unsupported(format!(
                        "`{name}` is generic; the bindings generator takes concrete types only"
                    )));
                }
                let attrs = serde_attrs(&s.attrs, name)?;
                write_docs(&mut out, "", &docs(&s.attrs));
                match &s.fields {
                    syn::Fields::Named(named) if !attrs.transparent => {
                        let body =
                            self.fields(named, attrs.rename_all.as_deref(), file, name, "  ")?;
                        let _ = write!(out, "export interface {name} {{\n{body}}}\n");
                    }
                    fields => {
                        let tys: Vec<&syn::Type> = fields.iter().map(|f| &f.ty).collect();
                        let ts = match tys.as_slice() {
                            [] => "null".to_owned(),
                            [one] => self.ts(one, file, name)?,
                            many => {
                                let parts: Result<Vec<_>, _> =
                                    many.iter().map(|t| self.ts(t, file, name)).collect();
                                format!("[{}]", parts?.join(", "))
                            }
                        };
                        let _ = writeln!(out, "export type {name} = {ts};");
                    }
                }
            }
            DefKind::Enum(e) => {
                let e = e.clone();
                let attrs = serde_attrs(&e.attrs, name)?;
                write_docs(&mut out, "", &docs(&e.attrs));
                let mut variants = Vec::new();
                for v in &e.variants {
                    let vattrs = serde_attrs(&v.attrs, &format!("{name}::{}", v.ident))?;
                    if vattrs.skip {
                        continue;
                    }
                    let tag_value = match vattrs.rename {
                        Some(r) => r,
                        None => rename(&v.ident.to_string(), attrs.rename_all.as_deref())?,
                    };
                    let owner = format!("{name}::{}", v.ident);
                    let vrule = vattrs.rename_all.as_deref();
                    let body: Option<String> = match &v.fields {
                        syn::Fields::Unit => None,
                        syn::Fields::Named(named) => Some(format!(
                            "{{\n{}  }}",
                            self.fields(named, vrule, file, &owner, "    ")?
                        )),
                        syn::Fields::Unnamed(u) => {
                            let parts: Result<Vec<_>, _> = u
                                .unnamed
                                .iter()
                                .map(|f| self.ts(&f.ty, file, &owner))
                                .collect();
                            let parts = parts?;
                            Some(if parts.len() == 1 {
                                parts[0].clone()
                            } else {
                                format!("[{}]", parts.join(", "))
                            })
                        }
                    };
                    let lit = format!("{tag_value:?}");
                    variants.push(match (&attrs.tag, &attrs.content, attrs.untagged, body) {
                        (_, _, true, Some(b)) => b,
                        (_, _, true, None) => "null".to_owned(),
                        (None, _, false, None) => lit,
                        (None, _, false, Some(b)) => {
                            format!("{{ {}: {b} }}", quote_key(&tag_value))
                        }
                        (Some(t), None, false, None) => format!("{{ {}: {lit} }}", quote_key(t)),
                        (Some(t), None, false, Some(b)) => match &v.fields {
                            syn::Fields::Named(_) => {
                                format!("{{ {}: {lit} }} & {b}", quote_key(t))
                            }
                            _ => {
                                return Err(BindError::Unsupported(format!(
                                    "{owner}: an internally tagged tuple variant cannot be bound"
                                )));
                            }
                        },
                        (Some(t), Some(_), false, None) => format!("{{ {}: {lit} }}", quote_key(t)),
                        (Some(t), Some(c), false, Some(b)) => {
                            format!("{{ {}: {lit}; {}: {b} }}", quote_key(t), quote_key(c))
                        }
                    });
                }
                let _ = writeln!(
                    out,
                    "export type {name} =\n  | {};",
                    variants.join("\n  | ")
                );
            }
            DefKind::Alias(_) | DefKind::Opaque(_) => {}
        }
        Ok(out)
    }
}

fn array_of(inner: &str) -> String {
    if inner.contains(' ') {
        format!("({inner})[]")
    } else {
        format!("{inner}[]")
    }
}

fn camel(name: &str) -> String {
    rename(name, Some("camelCase")).unwrap_or_else(|_| name.to_owned())
}

/// The bindings of every command in the shell's `generate_handler!` list.
pub fn generate(layout: &Layout) -> Result<Bindings, BindError> {
    let commands = handler_commands(&layout.shell_lib)?;
    let index = Index::build(&layout.crates)?;
    let shell_dir = layout
        .shell_lib
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut generator = Generator {
        index: &index,
        declared: BTreeMap::new(),
        pending: Vec::new(),
    };
    let mut functions = String::new();
    for c in &commands {
        let module_file = {
            let rel = c.module.replace("::", "/");
            let flat = shell_dir.join(format!("{rel}.rs"));
            if flat.is_file() {
                flat
            } else {
                shell_dir.join(rel).join("mod.rs")
            }
        };
        let file_id = index
            .files
            .iter()
            .position(|f| f.path == module_file)
            .ok_or_else(|| BindError::NoCommand(c.name.clone(), module_file.clone()))?;
        let parsed = parse_file(&module_file)?;
        let func = parsed
            .items
            .iter()
            .find_map(|item| match item {
                syn::Item::Fn(f)
                    if f.sig.ident == c.name
                        && f.attrs.iter().any(|a| {
                            a.path()
                                .segments
                                .last()
                                .is_some_and(|s| s.ident == "command")
                        }) =>
                {
                    Some(f.clone())
                }
                _ => None,
            })
            .ok_or_else(|| BindError::NoCommand(c.name.clone(), module_file.clone()))?;
        let used_by = format!("command {}", c.name);
        let mut params = Vec::new();
        let mut keys = Vec::new();
        let mut optional_tail = Vec::new();
        for input in &func.sig.inputs {
            let syn::FnArg::Typed(arg) = input else {
                continue;
            };
            let injected = match &*arg.ty {
                syn::Type::Path(p) => p
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| INJECTED.iter().any(|n| s.ident == *n)),
                _ => false,
            };
            if injected {
                continue;
            }
            let syn::Pat::Ident(pat) = &*arg.pat else {
                return Err(BindError::Unsupported(format!(
                    "{used_by}: an argument that is not a plain name"
                )));
            };
            let rust_name = pat.ident.to_string();
            let key = camel(&rust_name);
            let param = if TS_RESERVED.contains(&key.as_str()) {
                format!("{key}_")
            } else {
                key.clone()
            };
            let ts = generator.ts(&arg.ty, file_id, &format!("{used_by}({rust_name})"))?;
            let is_option = matches!(&*arg.ty, syn::Type::Path(p)
                if p.path.segments.last().is_some_and(|s| s.ident == "Option"));
            optional_tail.push(is_option);
            params.push((param.clone(), ts));
            keys.push(if param == key {
                key
            } else {
                format!("{key}: {param}")
            });
        }
        // Trailing optional arguments may be left out by the caller.
        let optional_from = optional_tail
            .iter()
            .rposition(|o| !o)
            .map_or(0, |last_required| last_required + 1);
        let ret = match &func.sig.output {
            syn::ReturnType::Default => "void".to_owned(),
            syn::ReturnType::Type(_, ty) => {
                let ty = match &**ty {
                    syn::Type::Path(p)
                        if p.path.segments.last().is_some_and(|s| s.ident == "Result") =>
                    {
                        Generator::generic_args(p.path.segments.last().unwrap_or_else(|| {
                            unreachable!("checked just above that the path has a last segment")
                        }))
                        .first()
                        .map(|t| (*t).clone())
                        .unwrap_or_else(|| (**ty).clone())
                    }
                    other => other.clone(),
                };
                match &ty {
                    syn::Type::Tuple(t) if t.elems.is_empty() => "void".to_owned(),
                    other => generator.ts(other, file_id, &used_by)?,
                }
            }
        };
        write_docs(&mut functions, "  ", &docs(&func.attrs));
        let sig: Vec<String> = params
            .iter()
            .enumerate()
            .map(|(i, (p, t))| {
                if i >= optional_from {
                    format!("{p}?: {t}")
                } else {
                    format!("{p}: {t}")
                }
            })
            .collect();
        let args = if keys.is_empty() {
            String::new()
        } else {
            format!(", {{ {} }}", keys.join(", "))
        };
        let _ = writeln!(
            functions,
            "  {}: ({}): Promise<{ret}> => call(\"{}\"{args}),",
            camel(&c.name),
            sig.join(", "),
            c.name
        );
    }
    // Declare every type reached, following the fields of each (which may reach more).
    let mut declarations: BTreeMap<String, String> = BTreeMap::new();
    while let Some((name, file, def)) = generator.pending.pop() {
        let text = generator.declare(&name, file, def)?;
        declarations.insert(name, text);
    }
    let mut ts = String::new();
    ts.push_str(
        "// Generated by tools/bindings from the commands in src-tauri/src/lib.rs's generate_handler!\n\
         // and the types they carry. Do not edit: change the Rust, then run\n\
         //   HEARTH_WRITE_BINDINGS=1 cargo test -p hearth-bindings\n\
         // (`make test` fails while this file is stale).\n\n\
         import { call } from \"../ipc\";\n",
    );
    for text in declarations.values() {
        ts.push('\n');
        ts.push_str(text);
    }
    ts.push_str(
        "\n/** Every command the UI may call, one typed function each. */\nexport const api = {\n",
    );
    ts.push_str(&functions);
    ts.push_str("};\n\nexport type Api = typeof api;\n");
    Ok(Bindings {
        commands,
        typescript: ts,
    })
}

/// The capability file with its `allow-<command>` entries made exactly the commands', in their
/// order, after the entries that are not a command's (plugins' permissions) kept as they were.
pub fn capability_with(current: &str, commands: &[Command]) -> Result<String, BindError> {
    let mut json: serde_json::Value =
        serde_json::from_str(current).map_err(|e| BindError::Capability(e.to_string()))?;
    let perms = json
        .get_mut("permissions")
        .and_then(|p| p.as_array_mut())
        .ok_or_else(|| BindError::Capability("no `permissions` array".into()))?;
    let mut kept: Vec<serde_json::Value> = perms
        .iter()
        .filter(|p| {
            p.as_str()
                .is_none_or(|s| !s.starts_with("allow-") || s.contains(':'))
        })
        .cloned()
        .collect();
    kept.extend(
        commands
            .iter()
            .map(|c| serde_json::Value::String(c.permission())),
    );
    *perms = kept;
    let mut text =
        serde_json::to_string_pretty(&json).map_err(|e| BindError::Capability(e.to_string()))?;
    text.push('\n');
    Ok(text)
}
