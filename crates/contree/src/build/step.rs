//! What a build is made of: its [`Base`]s, [`CopyOptions`], and the steps of each stage.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::dockerfile::substitute as subst;

use crate::image::Image;

/// What a build (or a stage of it, or a `copy_from`) starts from.
///
/// A string is, in this order: the alias or index of an earlier stage, an image UUID, a
/// tag (`tag:` prefix optional) and, if no image has that tag, an OCI reference imported
/// from its registry (`python:3.12` → `docker://docker.io/library/python:3.12`).
#[derive(Clone, Debug)]
pub enum Base {
    /// An image handle.
    Image(Image),
    /// A stage alias or index, a UUID, a tag or an OCI reference.
    Ref(String),
}

impl From<Image> for Base {
    fn from(i: Image) -> Self {
        Base::Image(i)
    }
}
impl From<&Image> for Base {
    fn from(i: &Image) -> Self {
        Base::Image(i.clone())
    }
}
impl From<&str> for Base {
    fn from(s: &str) -> Self {
        Base::Ref(s.to_string())
    }
}
impl From<String> for Base {
    fn from(s: String) -> Self {
        Base::Ref(s)
    }
}
impl From<&String> for Base {
    fn from(s: &String) -> Self {
        Base::Ref(s.clone())
    }
}

impl fmt::Display for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base::Image(i) => write!(f, "{i}"),
            Base::Ref(r) => f.write_str(r),
        }
    }
}

/// Owner and mode of copied files (`COPY --chown=… --chmod=…`).
///
/// ```
/// use contree::build::CopyOptions;
/// let opts = CopyOptions::new().chown(1000, 1000).chmod(0o755);
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyOptions {
    pub(crate) owner: Option<(u32, u32)>,
    pub(crate) mode: Option<u32>,
}

impl CopyOptions {
    /// Root-owned files with their local permission bits.
    pub fn new() -> Self {
        Self::default()
    }
    /// The owner uid and gid of every copied file (default root).
    pub fn chown(mut self, uid: u32, gid: u32) -> Self {
        self.owner = Some((uid, gid));
        self
    }
    /// The mode of every copied file (default: the local file's permission bits).
    pub fn chmod(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }
}

/// One instruction of a stage.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Run {
        shell: bool,
        parts: Vec<String>,
    },
    Copy {
        sources: Vec<PathBuf>,
        dest: String,
        opts: CopyOptions,
    },
    CopyFrom {
        from: Base,
        sources: Vec<String>,
        dest: String,
        opts: CopyOptions,
    },
    Files(crate::sync::FileMap),
    /// `ADD <url> <dest>`: downloaded (revalidated) and staged like a COPY.
    AddUrl {
        url: String,
        dest: String,
        opts: CopyOptions,
        /// The Dockerfile line, for errors.
        line: Option<usize>,
    },
    Env(String, String),
    Workdir(String),
    User(String),
    Arg(String, Option<String>),
}

impl Step {
    /// The instruction as a Dockerfile line (for reports).
    pub(crate) fn text(&self) -> String {
        match self {
            Step::Run { shell: true, parts } => format!("RUN {}", parts.join(" ")),
            Step::Run {
                shell: false,
                parts,
            } => format!("RUN {}", serde_json::to_string(parts).unwrap_or_default()),
            Step::Copy { sources, dest, .. } => {
                let srcs: Vec<String> = sources.iter().map(|p| p.display().to_string()).collect();
                format!("COPY {} {dest}", srcs.join(" "))
            }
            Step::CopyFrom {
                from,
                sources,
                dest,
                ..
            } => format!("COPY --from={from} {} {dest}", sources.join(" ")),
            Step::Files(map) => format!("COPY <{} synced files>", map.len()),
            Step::AddUrl { url, dest, .. } => {
                format!("ADD {} {dest}", contree_transport::redact_url(url))
            }
            Step::Env(k, v) => format!("ENV {k}={v}"),
            Step::Workdir(p) => format!("WORKDIR {p}"),
            Step::User(u) => format!("USER {u}"),
            Step::Arg(k, Some(v)) => format!("ARG {k}={v}"),
            Step::Arg(k, None) => format!("ARG {k}"),
        }
    }

    /// The step with `$VAR`/`${VAR}` substituted in everything but RUN (whose shell expands
    /// them: ARGs and ENV are in its environment).
    pub(crate) fn substituted(&self, vars: &BTreeMap<String, String>) -> Step {
        let s = |v: &String| subst(v, vars);
        match self {
            Step::Run { .. } | Step::Arg(..) | Step::Files(_) => self.clone(),
            Step::Env(k, v) => Step::Env(k.clone(), s(v)),
            Step::Workdir(p) => Step::Workdir(s(p)),
            Step::User(u) => Step::User(s(u)),
            Step::Copy {
                sources,
                dest,
                opts,
            } => Step::Copy {
                sources: sources
                    .iter()
                    .map(|p| PathBuf::from(subst(&p.to_string_lossy(), vars)))
                    .collect(),
                dest: s(dest),
                opts: *opts,
            },
            Step::AddUrl {
                url,
                dest,
                opts,
                line,
            } => Step::AddUrl {
                url: s(url),
                dest: s(dest),
                opts: *opts,
                line: *line,
            },
            Step::CopyFrom {
                from,
                sources,
                dest,
                opts,
            } => Step::CopyFrom {
                from: match from {
                    Base::Ref(r) => Base::Ref(s(r)),
                    b => b.clone(),
                },
                sources: sources.iter().map(s).collect(),
                dest: s(dest),
                opts: *opts,
            },
        }
    }
}

/// One stage: `FROM base [AS alias]` and its steps.
#[derive(Clone, Debug)]
pub(crate) struct Stage {
    pub(crate) base: Base,
    pub(crate) alias: Option<String>,
    pub(crate) steps: Vec<Step>,
}
