//! The server's data: images and tags, files, operations with their processes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use contree_proto::types::{
    File, Image, InstanceResult, InstanceResultResources, InstanceResultState, OperationKind,
    OperationMetadata, OperationResponse, OperationResponseResult, OperationStatus,
    OperationSummary, StreamRepr,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::EventLog;
use crate::fs::Fs;
use crate::util::ts_iso;
use crate::wire;

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

/// The environment of an image that is a bare filesystem (preloaded or imported): `PATH` and
/// `HOME=/root`.
pub(crate) fn base_image_env() -> BTreeMap<String, String> {
    [
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ]
    .into_iter()
    .collect()
}

/// The size of an image: the bytes of its regular files.
pub(crate) fn image_size(fs: &Fs) -> i64 {
    fs.walk("/")
        .map(|all| {
            all.iter()
                .filter(|(_, m)| m.kind == crate::fs::FileKind::File)
                .map(|(_, m)| m.size)
                .sum::<i64>()
        })
        .unwrap_or(0)
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
    /// This file as the spec's `File`.
    pub(crate) fn proto(&self) -> File {
        File::new(
            self.uuid,
            self.sha256.clone(),
            self.data.len() as i64,
            ts_iso(self.created_at),
            ts_iso(self.updated_at),
        )
    }
}

/// Operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Instance,
    ImageImport,
}

impl OpKind {
    /// The wire value (proto's enum owns the spelling).
    pub(crate) fn proto(self) -> OperationKind {
        match self {
            OpKind::Instance => OperationKind::Instance,
            OpKind::ImageImport => OperationKind::ImageImport,
        }
    }

    /// Parses a `kind` query value.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match OperationKind::from(s) {
            OperationKind::Instance => Some(OpKind::Instance),
            OperationKind::ImageImport => Some(OpKind::ImageImport),
            _ => None,
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
    const ALL: [Status; 6] = [
        Status::Pending,
        Status::Assigned,
        Status::Executing,
        Status::Success,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The wire value (proto's enum owns the spelling).
    pub(crate) fn proto(self) -> OperationStatus {
        match self {
            Status::Pending => OperationStatus::Pending,
            Status::Assigned => OperationStatus::Assigned,
            Status::Executing => OperationStatus::Executing,
            Status::Success => OperationStatus::Success,
            Status::Failed => OperationStatus::Failed,
            Status::Cancelled => OperationStatus::Cancelled,
        }
    }

    pub(crate) fn as_str(self) -> String {
        self.proto().as_str().to_string()
    }

    /// Parses a `status` query value (exactly as the spec spells it).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.proto().as_str() == s)
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

    pub(crate) fn repr(&self) -> StreamRepr {
        let mut r = StreamRepr::from_bytes(&self.data);
        r.truncated = Some(self.truncated());
        r
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
    pub(crate) state: Option<InstanceResultState>,
    pub(crate) resources: Option<InstanceResultResources>,
}

impl ProcRec {
    /// This process as an `InstanceResult` (a running one: exit code and signal -1, every
    /// resource key present, as the official SDK's models require).
    pub(crate) fn result(&self) -> InstanceResult {
        let mut r = InstanceResult::new();
        r.state = Some(
            self.state
                .clone()
                .unwrap_or_else(|| wire::process_state(self.pid, -1, -1, false)),
        );
        r.resources = Some(
            self.resources
                .clone()
                .unwrap_or_else(|| wire::process_resources(0.0, -1)),
        );
        r.stdout = Some(self.stdout.repr());
        r.stderr = Some(self.stderr.repr());
        r
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
    pub(crate) metadata: OperationMetadata,
    pub(crate) events: Arc<EventLog>,
    pub(crate) inst: Option<InstanceRt>,
    pub(crate) cancel: CancellationToken,
}

impl OpRec {
    /// Seconds since the operation was created; final once it is terminal.
    pub(crate) fn duration_so_far(&self) -> f64 {
        self.duration
            .unwrap_or_else(|| self.started.elapsed().as_secs_f64())
    }

    /// `OperationSummary`.
    pub(crate) fn summary(&self) -> OperationSummary {
        let mut s = OperationSummary::new();
        s.uuid = Some(self.uuid);
        s.kind = Some(self.kind.proto());
        s.status = Some(self.status.proto());
        s.error = self.error.clone();
        s.created_at = Some(ts_iso(self.created_at));
        s.duration = Some(self.duration_so_far());
        s.image_size = self.image_size;
        s.consumed_cpu = self.consumed_cpu;
        s.consumed_memory = self.consumed_memory;
        s.image_uuid = self.image_uuid;
        s.result_image_uuid = self.result_image;
        s
    }

    /// The main process result (`metadata.result`), if there is one to show.
    pub(crate) fn main_result(&self, inflight: bool) -> Option<InstanceResult> {
        let inst = self.inst.as_ref()?;
        let p = inst.procs.get(&1)?;
        (!p.running || inflight).then(|| p.result())
    }

    /// `OperationResponse`.
    pub(crate) fn response(&self, inflight: bool) -> OperationResponse {
        let s = self.summary();
        let mut v = OperationResponse::new();
        v.uuid = s.uuid;
        v.kind = s.kind;
        v.status = s.status;
        v.error = s.error;
        v.created_at = s.created_at;
        v.duration = s.duration;
        v.image_size = s.image_size;
        v.consumed_cpu = s.consumed_cpu;
        v.consumed_memory = s.consumed_memory;
        v.image_uuid = s.image_uuid;
        v.result_image_uuid = s.result_image_uuid;
        let mut meta = self.metadata.clone();
        if let OperationMetadata::Instance(m) = &mut meta {
            m.result = self.main_result(inflight && self.status == Status::Executing);
        }
        v.metadata = Some(meta);
        let mut result = OperationResponseResult::new();
        result.image = self.result_image;
        result.tag = self.result_tag.clone();
        v.result = Some(result);
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

    /// `Image` for one image with a given tag.
    pub(crate) fn image(&self, img: &ImageRec, tag: Option<&str>) -> Image {
        let mut i = Image::new();
        i.uuid = Some(img.uuid);
        i.tag = tag.map(str::to_string);
        i.created_at = Some(ts_iso(img.created_at));
        i.operation_uuid = img.operation_uuid;
        i
    }

    /// `Image` for an image with its first current tag.
    pub(crate) fn image_first(&self, id: Uuid) -> Option<Image> {
        let img = self.images.get(&id)?;
        let tags = self.tags_of(id);
        Some(self.image(img, tags.first().map(String::as_str)))
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
