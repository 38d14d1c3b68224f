//! Step keys: what identifies a layer by the content of its inputs.
//!
//! A step key is `sha256(parent ‖ 0x00 ‖ state ‖ 0x00 ‖ contribution ‖ 0x00 ‖ files)`:
//! `parent` is the key of the previous layer (or `sha256("FROM:<uuid>")` for a stage's
//! base), `state` the JSON of the build state (args, env, user, workdir; keys sorted),
//! `contribution` the normalised instruction, and `files` the sorted JSON list of the
//! files staged on the step (`{path, sha, uid, gid, mode}`). This is the chain hash of
//! the official CLI's `contree build`, so equal inputs give equal keys.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The build state every later step depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct State {
    pub(crate) args: BTreeMap<String, String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) user: String,
    pub(crate) workdir: String,
}

impl State {
    pub(crate) fn new() -> Self {
        Self {
            workdir: "/".into(),
            ..Self::default()
        }
    }

    /// The environment a RUN sees: the declared args, then the env (env wins).
    pub(crate) fn run_env(&self) -> BTreeMap<String, String> {
        let mut env = self.args.clone();
        env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}

/// One file staged on a step, as it enters the key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct KeyFile {
    pub(crate) path: String,
    pub(crate) sha: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mode: String,
}

/// The key a stage's chain starts from.
pub(crate) fn from_key(base_uuid: &str) -> String {
    hex::encode(Sha256::digest(format!("FROM:{base_uuid}").as_bytes()))
}

/// The key of a step on top of `parent`.
pub(crate) fn step_key(
    parent: &str,
    state: &State,
    contribution: &str,
    files: &[KeyFile],
) -> String {
    let mut files = files.to_vec();
    files.sort();
    let state_json = serde_json::to_string(state).unwrap_or_default();
    let files_json = serde_json::to_string(&files).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    h.update([0]);
    h.update(state_json.as_bytes());
    h.update([0]);
    h.update(contribution.as_bytes());
    h.update([0]);
    h.update(files_json.as_bytes());
    hex::encode(h.finalize())
}

/// The normalised contribution of a RUN: its form and its parts.
pub(crate) fn run_contribution(shell: bool, parts: &[String]) -> String {
    format!(
        "RUN shell={shell} parts={}",
        serde_json::to_string(parts).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, sha: &str) -> KeyFile {
        KeyFile {
            path: path.into(),
            sha: sha.into(),
            uid: 0,
            gid: 0,
            mode: "0644".into(),
        }
    }

    #[test]
    fn every_input_changes_the_key() {
        let s = State::new();
        let c = run_contribution(true, &["make".into()]);
        let base = step_key("p", &s, &c, &[file("/a", "1")]);
        assert_eq!(base, step_key("p", &s, &c, &[file("/a", "1")]));
        assert_ne!(base, step_key("q", &s, &c, &[file("/a", "1")]));
        assert_ne!(base, step_key("p", &s, &c, &[file("/a", "2")]));
        assert_ne!(base, step_key("p", &s, &c, &[]));
        let mut s2 = s.clone();
        s2.env.insert("A".into(), "1".into());
        assert_ne!(base, step_key("p", &s2, &c, &[file("/a", "1")]));
        let mut s3 = s.clone();
        s3.workdir = "/src".into();
        assert_ne!(base, step_key("p", &s3, &c, &[file("/a", "1")]));
        let c2 = run_contribution(false, &["make".into()]);
        assert_ne!(base, step_key("p", &s, &c2, &[file("/a", "1")]));
    }

    #[test]
    fn file_order_does_not_matter() {
        let s = State::new();
        let a = step_key("p", &s, "x", &[file("/a", "1"), file("/b", "2")]);
        let b = step_key("p", &s, "x", &[file("/b", "2"), file("/a", "1")]);
        assert_eq!(a, b);
        assert_eq!(from_key("u").len(), 64);
    }
}
