//! The server's data: images and tags, files, operations with their processes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::EventLog;
use crate::fs::Fs;
use crate::util::{stream_repr, ts_iso};

/// The default `PATH` of every process.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An immutable image version.
#[derive(Debug, Clone)]
pub(crate) struct ImageRec {
    pub(crate) uuid: Uuid,
    pub(crate) fs: Arc<Fs>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) cwd: String,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) operation_uuid: Option<Uuid>,
}

/// Derives an image UUID from its content (filesystem, env, default cwd).
pub(crate) fn image_uuid_for(fs: &Fs, env: &BTreeMap<String, String>, cwd: &str) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"contree-mock image v1\0");
    h.update(fs.content_hash());
    for (k, v) in env {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    h.update(b"\0cwd\0");
    h.update(cwd.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// An uploaded file.
#[derive(Debug, Clone)]
pub(crate) struct FileRec {
    pub(crate) uuid: Uuid,
    pub(crate) sha256: String,
    pub(crate) data: Bytes,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
}

impl FileRec {
    pub(crate) fn json(&self) -> Value {
        json!({
            "uuid": self.uuid,
            "sha256": self.sha256,
            "size": self.data.len(),
            "created_at": ts_iso(self.created_at),
            "updated_at": ts_iso(self.updated_at),
        })
    }
}

/// Operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Instance,
    ImageImport,
}

impl OpKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OpKind::Instance => "instance",
            OpKind::ImageImport => "image_import",
        }
    }
}

/// Operation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Assigned,
    Executing,
    Success,
    Failed,
    Cancelled,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Assigned => "ASSIGNED",
            Status::Executing => "EXECUTING",
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING" => Status::Pending,
            "ASSIGNED" => Status::Assigned,
            "EXECUTING" => Status::Executing,
            "SUCCESS" => Status::Success,
            "FAILED" => Status::Failed,
            "CANCELLED" => Status::Cancelled,
            _ => return None,
        })
    }

    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Status::Success | Status::Failed | Status::Cancelled)
    }
}

/// Output accounting for one stream of one process.
#[derive(Debug, Clone, Default)]
pub(crate) struct StreamAcc {
    pub(crate) data: Vec<u8>,
    pub(crate) dropped: u64,
    pub(crate) cap: u64,
}

impl StreamAcc {
    pub(crate) fn new(cap: u64) -> Self {
        Self {
            data: Vec::new(),
            dropped: 0,
            cap,
        }
    }

    /// Accounts a chunk; returns the part that may still be emitted (`None`: all dropped).
    pub(crate) fn accept(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        let room = self.cap.saturating_sub(self.data.len() as u64) as usize;
        let keep = chunk.len().min(room);
        self.dropped += (chunk.len() - keep) as u64;
        if keep == 0 {
            return None;
        }
        self.data.extend_from_slice(&chunk[..keep]);
        Some(chunk[..keep].to_vec())
    }

    pub(crate) fn truncated(&self) -> bool {
        self.dropped > 0
    }

    pub(crate) fn repr(&self) -> Value {
        stream_repr(&self.data, self.truncated())
    }
}

/// One process of an instance (spid 1 is the main process).
#[derive(Debug)]
pub(crate) struct ProcRec {
    pub(crate) pid: u32,
    pub(crate) stdin: Option<mpsc::Sender<Bytes>>,
    pub(crate) kill: mpsc::UnboundedSender<i32>,
    pub(crate) running: bool,
    pub(crate) stdin_acc: StreamAcc,
    pub(crate) stdout: StreamAcc,
    pub(crate) stderr: StreamAcc,
    /// `InstanceResult.state` once exited.
    pub(crate) state: Option<Value>,
    pub(crate) resources: Option<Value>,
}

impl ProcRec {
    /// This process as an `InstanceResult`.
    pub(crate) fn result(&self) -> Value {
        let state = self.state.clone().unwrap_or_else(|| {
            json!({"exit_code": -1, "signal": -1, "timed_out": false, "pid": self.pid,
                   "core_dump": false, "stopped": false, "continued": false})
        });
        let resources = self.resources.clone().unwrap_or_else(|| {
            json!({"elapsed_time": 0.0, "user_cpu_time": 0.0, "system_cpu_time": 0.0, "max_rss": 0})
        });
        json!({
            "state": state,
            "stdout": self.stdout.repr(),
            "stderr": self.stderr.repr(),
            "resources": resources,
        })
    }
}

/// Live data of an instance operation.
#[derive(Debug)]
pub(crate) struct InstanceRt {
    pub(crate) fs: Arc<Mutex<Fs>>,
    pub(crate) procs: BTreeMap<u32, ProcRec>,
    pub(crate) next_spid: u32,
    pub(crate) disposable: bool,
    pub(crate) truncate_at: u64,
    pub(crate) hostname: String,
    pub(crate) image_env: BTreeMap<String, String>,
    pub(crate) default_cwd: String,
    pub(crate) sub_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Set once the main process has exited: no new subprocesses.
    pub(crate) closing: bool,
}

/// An operation (instance run or image import).
#[derive(Debug)]
pub(crate) struct OpRec {
    pub(crate) uuid: Uuid,
    pub(crate) kind: OpKind,
    pub(crate) status: Status,
    pub(crate) error: Option<String>,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) started: Instant,
    pub(crate) duration: Option<f64>,
    pub(crate) image_uuid: Option<Uuid>,
    pub(crate) result_image: Option<Uuid>,
    pub(crate) result_tag: Option<String>,
    pub(crate) image_size: Option<i64>,
    pub(crate) consumed_cpu: Option<f64>,
    pub(crate) consumed_memory: Option<i64>,
    /// Instance: the normalised spawn request; import: the import metadata.
    pub(crate) metadata: Value,
    pub(crate) events: Arc<EventLog>,
    pub(crate) inst: Option<InstanceRt>,
    pub(crate) cancel: CancellationToken,
}

impl OpRec {
    /// `OperationSummary` fields.
    pub(crate) fn summary(&self) -> Value {
        json!({
            "uuid": self.uuid,
            "kind": self.kind.as_str(),
            "status": self.status.as_str(),
            "error": self.error,
            "created_at": ts_iso(self.created_at),
            "duration": self.duration,
            "image_size": self.image_size,
            "consumed_cpu": self.consumed_cpu,
            "consumed_memory": self.consumed_memory,
            "image_uuid": self.image_uuid,
            "result_image_uuid": self.result_image,
        })
    }

    /// The main process result (`metadata.result`), if there is one to show.
    pub(crate) fn main_result(&self, inflight: bool) -> Option<Value> {
        let inst = self.inst.as_ref()?;
        let p = inst.procs.get(&1)?;
        (!p.running || inflight).then(|| p.result())
    }

    /// `OperationResponse`.
    pub(crate) fn response(&self, inflight: bool) -> Value {
        let mut v = self.summary();
        let mut meta = self.metadata.clone();
        if self.kind == OpKind::Instance
            && let Some(r) = self.main_result(inflight && self.status == Status::Executing)
        {
            meta["result"] = r;
        }
        v["metadata"] = meta;
        v["result"] = json!({"image": self.result_image, "tag": self.result_tag});
        v
    }
}

/// Everything the server holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) images: HashMap<Uuid, ImageRec>,
    pub(crate) image_order: Vec<Uuid>,
    /// Public tags (the preloaded catalogue).
    pub(crate) public_tags: BTreeMap<String, Uuid>,
    /// Tags of this namespace; they shadow public tags of the same name.
    pub(crate) user_tags: BTreeMap<String, Uuid>,
    pub(crate) files: HashMap<String, FileRec>,
    pub(crate) file_order: Vec<String>,
    pub(crate) file_by_uuid: HashMap<Uuid, String>,
    pub(crate) ops: HashMap<Uuid, OpRec>,
    pub(crate) op_order: Vec<Uuid>,
}

impl State {
    /// Adds an image if no image with that UUID exists; returns the UUID either way.
    pub(crate) fn add_image(&mut self, img: ImageRec) -> Uuid {
        let id = img.uuid;
        if let std::collections::hash_map::Entry::Vacant(slot) = self.images.entry(id) {
            slot.insert(img);
            self.image_order.push(id);
        }
        id
    }

    /// The image a tag currently resolves to.
    pub(crate) fn resolve_tag(&self, tag: &str) -> Option<Uuid> {
        self.user_tags
            .get(tag)
            .or_else(|| self.public_tags.get(tag))
            .copied()
    }

    /// The tags that currently resolve to `id` (user tags, and public tags not shadowed).
    pub(crate) fn tags_of(&self, id: Uuid) -> Vec<String> {
        let mut out: Vec<String> = self
            .user_tags
            .iter()
            .filter(|(_, u)| **u == id)
            .map(|(t, _)| t.clone())
            .collect();
        for (t, u) in &self.public_tags {
            if *u == id && !self.user_tags.contains_key(t) {
                out.push(t.clone());
            }
        }
        out.sort();
        out
    }

    /// `Image` JSON for one image with a given tag.
    pub(crate) fn image_json(&self, img: &ImageRec, tag: Option<&str>) -> Value {
        json!({
            "uuid": img.uuid,
            "tag": tag,
            "created_at": ts_iso(img.created_at),
            "operation_uuid": img.operation_uuid,
        })
    }

    /// `Image` JSON for an image with its first current tag.
    pub(crate) fn image_json_first(&self, id: Uuid) -> Option<Value> {
        let img = self.images.get(&id)?;
        let tags = self.tags_of(id);
        Some(self.image_json(img, tags.first().map(String::as_str)))
    }
}

/// Whether a string is a valid tag (the `ImageSourceTag` pattern without `tag:`).
pub(crate) fn valid_tag(tag: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:[:/.][A-Za-z0-9_-]+)*$")
            .expect("the tag pattern is a valid regex")
    })
    .is_match(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_cap_accounting() {
        let mut s = StreamAcc::new(5);
        assert_eq!(s.accept(b"abc").unwrap(), b"abc");
        assert_eq!(s.accept(b"defg").unwrap(), b"de");
        assert!(s.accept(b"x").is_none());
        assert_eq!(s.dropped, 3);
        assert!(s.truncated());
    }

    #[test]
    fn uuids_follow_content() {
        let mut a = Fs::new();
        let env = BTreeMap::new();
        let u1 = image_uuid_for(&a, &env, "/");
        assert_eq!(u1, image_uuid_for(&a.clone(), &env, "/"));
        a.write("/x", Bytes::from_static(b"1")).unwrap();
        assert_ne!(u1, image_uuid_for(&a, &env, "/"));
        assert!(valid_tag("busybox:latest"));
        assert!(valid_tag("ghcr.io/org/img:1"));
        assert!(!valid_tag("bad tag!"));
        assert!(!valid_tag(""));
    }
}
