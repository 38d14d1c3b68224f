//! The blocking mirror cannot drift: every public method of an async handle or builder has
//! a blocking counterpart of the same name, unless [`NOT_MIRRORED`] says why not.
//!
//! A source scan (with `syn`) of `src/`: the inherent `impl` blocks of every type outside
//! `src/blocking/` are compared with those inside it. On the blocking side a method counts
//! when it is written out, forwarded by `forward!`/`forward_builder!`, or generated from a
//! shared option list (a `*_options!(...)` invocation both sides make, see
//! `contree::util::setters`). Adding an async method without its blocking twin fails this
//! test with the list of what is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Async types whose blocking counterpart has another name.
const RENAMED: &[(&str, &str)] = &[("OutputReader", "ProcessOutput")];

/// Async types with public methods that are shared as they are by both clients (plain data
/// that makes no request), or have no blocking form by nature.
const SHARED_TYPES: &[(&str, &str)] = &[
    ("CopyOptions", "plain data, taken by both"),
    ("DirEntry", "plain data"),
    (
        "FileLineage",
        "a lineage store: no requests, shared by both clients",
    ),
    ("FileMap", "plain data (a sync's result), taken by both"),
    ("LineageEntry", "plain data"),
    ("LocalCache", "a layer-cache store, taken by both builds"),
    (
        "MemoryLineage",
        "a lineage store: no requests, shared by both clients",
    ),
    ("TagCache", "a layer-cache store, taken by both builds"),
    ("Error", "shared error type"),
    ("Event", "plain data"),
    ("ExitStatus", "plain data"),
    ("FileSpec", "plain data, taken by both"),
    ("GrepResult", "plain data"),
    ("ImageId", "plain data"),
    ("OciReference", "plain data"),
    ("UploadSource", "plain data, taken by both"),
    ("UploadedFile", "plain data"),
    ("WhoAmI", "plain data"),
];

/// Async modules without a blocking mirror yet: their types are skipped by the check, and
/// blocking code reaches them through `blocking::Contree::call`. Mirror them and delete
/// the entry (each is a known gap, not a design decision).
const NOT_YET_MIRRORED: &[(&str, &str)] = &[];

/// Blocking types that deref to their async twin: its `&self` methods are reachable.
const DEREFS: &[&str] = &["RunOutput"];

/// Async methods with no blocking method of the same name, and why.
const NOT_MIRRORED: &[(&str, &str, &str)] = &[
    (
        "Files",
        "sync_dir",
        "not yet: contree::sync (issue #18) landed without a blocking mirror",
    ),
    (
        "Run",
        "files",
        "not yet: contree::sync (issue #18) landed without a blocking mirror",
    ),
    (
        "Archive",
        "into_stream",
        "a futures Stream; blocking Archive::into_reader is a std::io::Read",
    ),
    (
        "Archive",
        "into_async_read",
        "an AsyncRead; blocking Archive::into_reader is a std::io::Read",
    ),
];

#[derive(Debug, Default)]
struct Methods {
    /// name -> takes `&self` (or `&mut self`)
    by_type: BTreeMap<String, BTreeMap<String, bool>>,
}

impl Methods {
    fn add(&mut self, ty: &str, name: String, by_ref: bool) {
        self.by_type
            .entry(ty.to_string())
            .or_default()
            .insert(name, by_ref);
    }
}

struct Collector<'a> {
    out: &'a mut Methods,
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The method names of a `forward! { Type: a(..); b(..); }` or `forward_builder! { a(..); }`
/// body: every identifier directly followed by a parenthesised group.
fn forwarded_names(tokens: proc_macro2::TokenStream) -> Vec<String> {
    let toks: Vec<_> = tokens.into_iter().collect();
    let mut names = Vec::new();
    for pair in toks.windows(2) {
        if let (proc_macro2::TokenTree::Ident(id), proc_macro2::TokenTree::Group(g)) =
            (&pair[0], &pair[1])
            && g.delimiter() == proc_macro2::Delimiter::Parenthesis
        {
            names.push(id.to_string());
        }
    }
    names
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_impl(&mut self, imp: &'ast syn::ItemImpl) {
        if imp.trait_.is_some() {
            return;
        }
        let Some(ty) = type_name(&imp.self_ty) else {
            return;
        };
        for item in &imp.items {
            match item {
                syn::ImplItem::Fn(f) if matches!(f.vis, syn::Visibility::Public(_)) => {
                    let by_ref = matches!(
                        f.sig.receiver(),
                        Some(r) if r.reference.is_some()
                    );
                    self.out.add(&ty, f.sig.ident.to_string(), by_ref);
                }
                syn::ImplItem::Macro(m) => {
                    let name = m
                        .mac
                        .path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default();
                    if name.ends_with("_options") {
                        // A shared option list: the same invocation on both sides.
                        self.out.add(&ty, format!("{name}!"), false);
                    } else if name.starts_with("forward") {
                        for n in forwarded_names(m.mac.tokens.clone()) {
                            self.out.add(&ty, n, false);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading src") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn scan() -> (Methods, Methods) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let blocking_dir = src.join("blocking");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let (mut async_side, mut blocking_side) = (Methods::default(), Methods::default());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
        let out = if file.starts_with(&blocking_dir) {
            &mut blocking_side
        } else {
            &mut async_side
        };
        Collector { out }.visit_file(&parsed);
    }
    (async_side, blocking_side)
}

#[test]
fn every_async_public_method_has_a_blocking_counterpart() {
    let (async_side, blocking_side) = scan();
    let renamed: BTreeMap<_, _> = RENAMED.iter().copied().collect();
    let shared: BTreeSet<_> = SHARED_TYPES
        .iter()
        .chain(NOT_YET_MIRRORED)
        .map(|(t, _)| *t)
        .collect();
    let skip: BTreeSet<_> = NOT_MIRRORED.iter().map(|(t, m, _)| (*t, *m)).collect();
    let mut missing = Vec::new();
    let mut unmapped = Vec::new();
    for (ty, methods) in &async_side.by_type {
        if shared.contains(ty.as_str()) {
            continue;
        }
        let bty = renamed.get(ty.as_str()).copied().unwrap_or(ty.as_str());
        let Some(bmethods) = blocking_side.by_type.get(bty) else {
            unmapped.push(ty.clone());
            continue;
        };
        for (name, by_ref) in methods {
            let covered = bmethods.contains_key(name)
                || skip.contains(&(ty.as_str(), name.as_str()))
                || (*by_ref && DEREFS.contains(&bty));
            if !covered {
                missing.push(format!("{ty}::{name}"));
            }
        }
    }
    // Private helper types of the async side have no public methods... unless they do:
    // those show up here too, and belong in SHARED_TYPES only if they are public data.
    let unmapped: Vec<_> = unmapped
        .into_iter()
        .filter(|t| !INTERNAL_TYPES.contains(&t.as_str()))
        .collect();
    assert!(
        missing.is_empty() && unmapped.is_empty(),
        "the blocking API lacks counterparts of these async methods: {missing:?}\n\
         and these async types have public methods but no blocking type: {unmapped:?}\n\
         Add the blocking method in crates/contree/src/blocking/ (forward it, or add it to \
         the type's shared option list), or record why not in NOT_MIRRORED / SHARED_TYPES \
         in {}",
        file!()
    );
}

/// Crate-private types that happen to have `pub fn`s (visible in the crate only).
const INTERNAL_TYPES: &[&str] = &[];

#[test]
fn the_exception_tables_name_real_methods() {
    // A stale exception would hide nothing and mislead readers: each must still exist.
    let (async_side, _) = scan();
    let has = |ty: &str, name: &str| {
        async_side
            .by_type
            .get(ty)
            .is_some_and(|m| m.contains_key(name))
    };
    let stale: Vec<_> = NOT_MIRRORED
        .iter()
        .filter(|(ty, name, _)| !has(ty, name))
        .map(|(ty, name, _)| format!("NOT_MIRRORED {ty}::{name}"))
        .chain(
            SHARED_TYPES
                .iter()
                .chain(NOT_YET_MIRRORED)
                .filter(|(ty, _)| !async_side.by_type.contains_key(*ty))
                .map(|(ty, _)| format!("SHARED_TYPES {ty}")),
        )
        .collect();
    assert!(
        stale.is_empty(),
        "these exceptions name what the async API no longer has (remove them): {stale:?}"
    );
}
