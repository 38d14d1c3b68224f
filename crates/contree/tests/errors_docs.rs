//! Every public fallible method says how it fails: a source scan (with `syn`) of `src/`
//! (the async API; `src/blocking/` forwards to it) finds each `pub async fn` and each
//! `pub fn` returning `Result` in an inherent `impl`, and requires an `# Errors` section in
//! its rustdoc, unless [`NOT_YET`] lists it. The list is the visible gap: document a method
//! and delete its entry (a listed method that is documented fails the test too).

use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// `Type::method` pairs without an `# Errors` section yet.
const NOT_YET: &[&str] = &[];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "blocking") {
                rs_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs")
            && !p.to_string_lossy().ends_with("_tests.rs")
        {
            out.push(p);
        }
    }
}

#[derive(Default)]
struct Scan {
    fallible: Vec<String>,
    undocumented: Vec<String>,
}

fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn returns_result(sig: &syn::Signature) -> bool {
    match &sig.output {
        syn::ReturnType::Type(_, ty) => type_name(ty) == "Result",
        syn::ReturnType::Default => false,
    }
}

fn doc_text(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl<'ast> Visit<'ast> for Scan {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        // `#[cfg(test)] mod tests { .. }` holds no public API.
        let test = m.attrs.iter().any(|a| {
            a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
        });
        if !test {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_impl(&mut self, imp: &'ast syn::ItemImpl) {
        if imp.trait_.is_some() {
            return;
        }
        let ty = type_name(&imp.self_ty);
        for item in &imp.items {
            let syn::ImplItem::Fn(f) = item else { continue };
            let public = matches!(f.vis, syn::Visibility::Public(_));
            let fallible = f.sig.asyncness.is_some() || returns_result(&f.sig);
            if !public || !fallible {
                continue;
            }
            // Async methods that cannot fail (they return no Result) need no section.
            if f.sig.asyncness.is_some() && !returns_result(&f.sig) {
                continue;
            }
            let name = format!("{ty}::{}", f.sig.ident);
            if !doc_text(&f.attrs).contains("# Errors") {
                self.undocumented.push(name.clone());
            }
            self.fallible.push(name);
        }
    }
}

#[test]
fn every_public_fallible_method_documents_its_errors() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut scan = Scan::default();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        scan.visit_file(&file);
    }
    assert!(
        scan.fallible.len() >= 30,
        "the scan found only {} fallible methods",
        scan.fallible.len()
    );
    let missing: Vec<_> = scan
        .undocumented
        .iter()
        .filter(|m| !NOT_YET.contains(&m.as_str()))
        .collect();
    let stale: Vec<_> = NOT_YET
        .iter()
        .filter(|m| !scan.undocumented.iter().any(|u| u == *m))
        .collect();
    println!(
        "errors docs: {} public fallible methods, {} with an `# Errors` section, {} listed as not yet",
        scan.fallible.len(),
        scan.fallible.len() - scan.undocumented.len(),
        NOT_YET.len()
    );
    assert!(
        missing.is_empty(),
        "public fallible methods without an `# Errors` section: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "documented now, delete from NOT_YET: {stale:?}"
    );
}
