//! Hostile archives: a table and a seeded generator. Each case is extracted into a sandbox
//! (`tmp/l1/l2/outer/{dst,outside/secret.txt}`, sometimes with a link already in `dst`
//! that points outside); nothing may appear or change outside `dst`, no link in `dst` may
//! lead outside, no mode may keep setuid/setgid/sticky bits, and a refused archive leaves
//! `dst` as it was.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use super::extract;

/// One entry of a test archive. `{out}` in names and targets is the absolute path of the
/// sandbox's `outside` directory.
#[derive(Debug, Clone)]
enum E {
    File(String, u32),
    Dir(String, u32),
    Sym(String, String),
    Hard(String, String),
    Fifo(String),
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

fn raw_header(kind: tar::EntryType, name: &str, link: &str, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(1_700_000_000);
    // Raw bytes: the builder's setters refuse `..` and absolute paths.
    let old = h.as_old_mut();
    let n = name.len().min(100);
    old.name[..n].copy_from_slice(&name.as_bytes()[..n]);
    let l = link.len().min(100);
    old.linkname[..l].copy_from_slice(&link.as_bytes()[..l]);
    h.set_cksum();
    h
}

/// A tar of `entries` (names or targets over 100 bytes go in a PAX header).
fn build(entries: &[E], out: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let fix = |s: &str| s.replace("{out}", out);
        let (kind, name, link, mode, data) = match e {
            E::File(n, m) => (
                tar::EntryType::Regular,
                fix(n),
                String::new(),
                *m,
                b"data\n".to_vec(),
            ),
            E::Dir(n, m) => (
                tar::EntryType::Directory,
                fix(n),
                String::new(),
                *m,
                Vec::new(),
            ),
            E::Sym(n, t) => (tar::EntryType::Symlink, fix(n), fix(t), 0o777, Vec::new()),
            E::Hard(n, t) => (tar::EntryType::Link, fix(n), fix(t), 0o644, Vec::new()),
            E::Fifo(n) => (
                tar::EntryType::Fifo,
                fix(n),
                String::new(),
                0o644,
                Vec::new(),
            ),
        };
        if name.len() > 100 || link.len() > 100 {
            let mut pax = pax_record("path", &name);
            if !link.is_empty() {
                pax.extend(pax_record("linkpath", &link));
            }
            let h = raw_header(tar::EntryType::XHeader, "pax", "", 0o644, pax.len() as u64);
            b.append(&h, &pax[..]).unwrap();
        }
        let h = raw_header(kind, &name, &link, mode, data.len() as u64);
        b.append(&h, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

struct Sandbox {
    tmp: tempfile::TempDir,
    outside: PathBuf,
    dst: PathBuf,
    pre: bool,
}

fn sandbox(pre: bool) -> Sandbox {
    // In memory when the machine has a tmpfs (thousands of cases, each a few directories).
    let shm = Path::new("/dev/shm");
    let tmp = if shm.is_dir() {
        tempfile::tempdir_in(shm).or_else(|_| tempfile::tempdir())
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let outer = tmp.path().join("l1/l2/outer");
    let (dst, outside) = (outer.join("dst"), outer.join("outside"));
    fs::create_dir_all(&dst).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret.txt"), b"secret").unwrap();
    if pre {
        // Already in the destination: a link that points outside, and a real directory.
        std::os::unix::fs::symlink(&outside, dst.join("pre")).unwrap();
        fs::create_dir(dst.join("inner")).unwrap();
    }
    Sandbox {
        tmp,
        outside,
        dst,
        pre,
    }
}

/// Every path below `dir` (relative), not following links.
fn walk(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(dir).unwrap().to_path_buf());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out
}

/// Where `p` leads on disk: existing prefixes resolved, the rest lexically.
fn resolve(p: &Path) -> PathBuf {
    let mut cur = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(n) => {
                let next = cur.join(n);
                cur = fs::canonicalize(&next).unwrap_or(next);
            }
        }
    }
    cur
}

/// What went wrong in `sb` after an extraction: escapes (outside changed, a link in `dst`
/// leading outside) and mode bits kept.
fn escapes(sb: &Sandbox) -> Vec<String> {
    let mut bad = Vec::new();
    let expected: BTreeSet<PathBuf> = [
        "l1",
        "l1/l2",
        "l1/l2/outer",
        "l1/l2/outer/dst",
        "l1/l2/outer/outside",
        "l1/l2/outer/outside/secret.txt",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let around: BTreeSet<PathBuf> = walk(sb.tmp.path())
        .into_iter()
        .filter(|p| p == Path::new("l1/l2/outer/dst") || !p.starts_with("l1/l2/outer/dst"))
        .collect();
    if around != expected {
        bad.push(format!("outside changed: {around:?}"));
    }
    if fs::read(sb.outside.join("secret.txt")).ok().as_deref() != Some(&b"secret"[..]) {
        bad.push("the secret was overwritten".into());
    }
    let root = fs::canonicalize(&sb.dst).unwrap();
    for rel in walk(&sb.dst) {
        if sb.pre && rel == Path::new("pre") {
            continue;
        }
        let p = sb.dst.join(&rel);
        let meta = fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&p).unwrap();
            let led = resolve(&root.join(&rel).parent().unwrap().join(&target));
            if !led.starts_with(&root) {
                bad.push(format!(
                    "{} -> {} leads to {}",
                    rel.display(),
                    target.display(),
                    led.display()
                ));
            }
        } else if meta.permissions().mode() & 0o7000 != 0 {
            bad.push(format!(
                "{} kept mode {:o}",
                rel.display(),
                meta.permissions().mode()
            ));
        }
    }
    bad
}

/// Extracts `entries` in a fresh sandbox; returns (extracted?, escapes, leftovers).
fn case(entries: &[E], pre: bool) -> (bool, Vec<String>, Vec<String>) {
    let sb = sandbox(pre);
    let before = walk(&sb.dst);
    let tar = build(entries, sb.outside.to_str().unwrap());
    let result = extract(&tar[..], &sb.dst, false);
    let bad = escapes(&sb);
    let leftovers = match &result {
        Ok(_) => Vec::new(),
        Err(_) => walk(&sb.dst)
            .difference(&before)
            .map(|p| format!("left behind: {}", p.display()))
            .collect(),
    };
    (result.is_ok(), bad, leftovers)
}

fn f(n: &str) -> E {
    E::File(n.into(), 0o644)
}
fn d(n: &str) -> E {
    E::Dir(n.into(), 0o755)
}
fn s(n: &str, t: &str) -> E {
    E::Sym(n.into(), t.into())
}
fn h(n: &str, t: &str) -> E {
    E::Hard(n.into(), t.into())
}

fn table() -> Vec<(&'static str, Vec<E>)> {
    let long = "d/".repeat(120) + "file";
    let long_out = "../".repeat(40) + "x";
    vec![
        ("dotdot", vec![f("../evil")]),
        ("dotdot inside", vec![f("a/../../evil")]),
        ("absolute", vec![f("{out}/evil")]),
        ("link out", vec![s("ln", "../../etc")]),
        (
            "absolute link then write",
            vec![s("ln", "{out}"), f("ln/evil")],
        ),
        (
            "chain a->. a/x->..",
            vec![s("a", "."), s("a/x", ".."), f("x/evil")],
        ),
        (
            "chain deeper",
            vec![d("b"), s("a", "b/.."), s("a/x", ".."), f("x/evil")],
        ),
        (
            "dangling then dot",
            vec![s("y", "m/.."), s("m", "."), f("y/evil")],
        ),
        (
            "link replaced",
            vec![s("s", "b"), s("y", "s/.."), s("s", "."), f("y/evil")],
        ),
        ("symlink then file", vec![s("x", "a"), f("x"), f("x/evil")]),
        (
            "symlink to secret then file",
            vec![s("x", "../outside/secret.txt"), f("x")],
        ),
        ("pre-existing outside link", vec![f("pre/evil")]),
        (
            "hard link through dot",
            vec![s("s", "."), h("hl", "s/../outside/secret.txt")],
        ),
        (
            "hard link through outside link",
            vec![h("hl", "pre/secret.txt")],
        ),
        ("hard link absolute", vec![h("hl", "{out}/secret.txt")]),
        ("hard link to dir", vec![d("a"), h("hl", "a")]),
        ("hard link to link out", vec![h("hl", "pre")]),
        ("file over dir", vec![d("a"), f("a/keep"), f("a")]),
        ("file under file", vec![f("a"), f("a/b")]),
        ("setuid file", vec![E::File("suid".into(), 0o4755)]),
        (
            "setgid and sticky dirs",
            vec![E::Dir("g".into(), 0o2775), E::Dir("t".into(), 0o1777)],
        ),
        ("fifo skipped", vec![E::Fifo("p".into()), f("ok")]),
        ("long pax name inside", vec![f(&long)]),
        (
            "long pax name out",
            vec![f(&format!("{}/../../{}", "d/".repeat(60), long_out))],
        ),
        ("long pax link out", vec![s("ln", &long_out)]),
        ("name too long", vec![f("a/ok"), f(&"n".repeat(300))]),
        (
            "fine tree",
            vec![
                d("a"),
                f("a/x"),
                s("a/l", "x"),
                h("a/h", "a/x"),
                s("top", "a/l"),
            ],
        ),
    ]
}

#[test]
fn the_symlink_chain_does_not_escape_and_is_undone() {
    let sb = sandbox(false);
    let tar = build(
        &[f("first"), s("a", "."), s("a/x", ".."), f("x/evil")],
        sb.outside.to_str().unwrap(),
    );
    let e = extract(&tar[..], &sb.dst, false).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::UnsafeArchive, "{e}");
    assert!(e.to_string().contains("a/x"), "{e}");
    assert!(escapes(&sb).is_empty(), "{:?}", escapes(&sb));
    assert!(walk(&sb.dst).is_empty(), "the failed extraction is undone");
}

#[test]
fn modes_lose_setuid_setgid_and_sticky_bits() {
    let sb = sandbox(false);
    let tar = build(
        &[E::File("suid".into(), 0o4755), E::Dir("g".into(), 0o3775)],
        "",
    );
    assert_eq!(extract(&tar[..], &sb.dst, false).unwrap(), 2);
    let mode = |p: &str| fs::metadata(sb.dst.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("suid"), 0o755);
    assert_eq!(mode("g"), 0o775);
}

#[test]
fn a_failed_extraction_removes_the_directory_it_created() {
    let sb = sandbox(false);
    let fresh = sb.dst.join("new");
    fs::create_dir(&fresh).unwrap();
    let tar = build(&[f("x"), f("../../evil")], "");
    assert!(extract(&tar[..], &fresh, true).is_err());
    assert!(!fresh.exists());
}

#[test]
fn a_fine_tree_extracts_whole() {
    let sb = sandbox(true);
    let tar = build(
        &[
            d("a"),
            f("a/x"),
            s("a/l", "x"),
            h("a/h", "a/x"),
            s("inner/up", "../a"),
            f(&("d/".repeat(120) + "f")),
        ],
        "",
    );
    assert_eq!(extract(&tar[..], &sb.dst, false).unwrap(), 6);
    assert_eq!(fs::read(sb.dst.join("a/l")).unwrap(), b"data\n");
    assert_eq!(fs::read(sb.dst.join("inner/up/h")).unwrap(), b"data\n");
    assert!(sb.dst.join("d/".repeat(120) + "f").is_file());
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, v: &'a [&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

fn generated(rng: &mut Rng) -> Vec<E> {
    const NAMES: &[&str] = &[
        "a",
        "b",
        "x",
        "a/x",
        "a/b",
        "x/y",
        "a/x/y",
        "b/a",
        "..",
        "../e",
        "a/../..",
        "a/../b",
        ".",
        "./a",
        "{out}/gen",
        "pre/g",
        "inner/g",
        "inner/../x",
        "m",
        "m/z",
    ];
    const TARGETS: &[&str] = &[
        ".",
        "..",
        "../..",
        "a",
        "a/..",
        "a/../..",
        "x/..",
        "b/../..",
        "{out}",
        "{out}/secret.txt",
        "../outside",
        "../outside/secret.txt",
        "a/x",
        "pre",
        "pre/secret.txt",
        "inner/..",
        "inner/../..",
        "m/..",
        "x",
        "b",
    ];
    const MODES: &[u32] = &[0o644, 0o755, 0o4755, 0o2755, 0o1777, 0o6711, 0o600];
    let n = 1 + rng.next() % 8;
    (0..n)
        .map(|_| {
            let name = rng.pick(NAMES).to_string();
            let mode = MODES[(rng.next() % MODES.len() as u64) as usize];
            match rng.next() % 9 {
                0..=2 => E::File(name, mode),
                3 => E::Dir(name, mode),
                4..=6 => E::Sym(name, rng.pick(TARGETS).to_string()),
                7 => E::Hard(name, rng.pick(TARGETS).to_string()),
                _ => E::Fifo(name),
            }
        })
        .collect()
}

#[test]
fn hostile_archives_never_escape() {
    let mut cases = 0;
    let mut extracted = 0;
    let mut failures = Vec::new();
    let mut run = |name: String, entries: &[E], pre: bool| {
        let (ok, bad, leftovers) = case(entries, pre);
        cases += 1;
        extracted += usize::from(ok);
        if !bad.is_empty() || !leftovers.is_empty() {
            failures.push(format!(
                "{name} (pre={pre}) {entries:?}: {bad:?} {leftovers:?}"
            ));
        }
    };
    let table = table();
    for (name, entries) in &table {
        for pre in [false, true] {
            run(name.to_string(), entries, pre);
        }
    }
    let mut rng = Rng(0x00A7_C41E);
    const GENERATED: usize = 2_000;
    for i in 0..GENERATED {
        let entries = generated(&mut rng);
        run(format!("generated #{i}"), &entries, i % 2 == 0);
    }
    eprintln!(
        "hostile archives: {cases} cases ({} table x2, {GENERATED} generated), {extracted} extracted, {} refused, {} escapes",
        table.len(),
        cases - extracted,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} escapes:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
