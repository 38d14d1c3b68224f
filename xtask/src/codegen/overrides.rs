//! Every place where the generated code departs from the letter of the spec, in one list.
//!
//! The spec (`../shared/spec/contree-openapi.yaml`) is the contract, but the service and the
//! official client read it loosely in places, and a few shapes cannot be expressed in OpenAPI
//! at all. Each override below names the schema or operation it applies to and says, in its
//! comment, which quirk it answers. Nothing else in the generator special-cases a schema by
//! name (except the `oneOf` selectors in `model/mod.rs`: `EVENT_DATA`, `CHOSEN`, `ImageSource`'s
//! UUID-or-tag and `OperationMetadata` by `kind`, which are shape, not leniency).
//! `docs/WIRE-QUIRKS.md` has one entry per quirk (what the spec says, what the service does,
//! the evidence, the override) for readers of the SDK.

use super::model::Ty;

/// Query parameters that are HTTP flags by presence: the spec declares them as strings
/// (`""`, `"0"`, `"1"`) or booleans, the service reads them by presence, and sending `false`
/// is misread (`tagged=false` still filters, `text=false` enables text mode). Modelled as
/// `bool`, sent as `name=1` when true and omitted when false.
pub const FLAGS: &[&str] = &["tagged", "text", "follow", "inflight"];

/// Query parameters the spec declares as a single string but documents (in prose) as
/// repeatable: `grep` takes several patterns, paths and globs (`pattern=a&pattern=b`).
pub const REPEATED: &[(&str, &str)] = &[
    ("inspectImageGrep", "pattern"),
    ("inspectImageGrep", "path"),
    ("inspectImageGrep", "glob"),
];

/// Optional request fields that need three states (absent, `null`, value): `env: null` and an
/// absent `env` mean different things to the service (`null` clears the variables a
/// `preserve_env` image carries), and an import's `tag: null` asks for no tag at all while an
/// absent tag lets the service pick one. Generated as `crate::Nullable<T>`.
pub const TRISTATE: &[(&str, &str)] = &[
    ("InstanceSpawnRequest", "env"),
    ("ExecSpec", "env"),
    ("ImageImportRequest", "tag"),
];

/// Response fields the spec does not mark `nullable` but the service sends as `null`: an
/// instance's `metadata.result` is `null` until its main process exits (the official SDK's
/// `InstanceOperationMetadata.result` is a required key typed `ProcessExecutionResult | None`;
/// `docs/SPEC-DEFECTS.md`). Generated as the spec's nullable fields are: `Option<T>`, with
/// `None` sent as `null`.
pub const NULLABLE: &[(&str, &str)] = &[("OperationInstanceMetadata", "result")];

/// Response fields the spec re-declares as a UUID that the service and the official test
/// double may still fill with the request's `ImageSource` (`tag:...`): an instance's
/// `metadata.image`, and the spawn answer's echo of the request's `image`. Generated as
/// `ImageSource` (a UUID or a `tag:` string), so both decode.
pub const IMAGE_SOURCE_FIELDS: &[(&str, &str)] = &[
    ("OperationInstanceMetadata", "image"),
    ("InstanceSpawnResponse", "image"),
];

/// Operations without an `operationId` in the spec get these ids (`GET /files` and
/// `GET /files/{sha256}` have none).
pub const SYNTH_IDS: &[(&str, &str, &str)] = &[
    ("GET", "/files", "listFiles"),
    ("GET", "/files/{sha256}", "getFile"),
];

/// String enums whose values the service sends in another case than the spec declares: the
/// status enum is uppercase, but `OperationSummary`'s example (and some service versions) say
/// `"success"`. These decode case-insensitively (`"success"` is `Success`, not
/// `Unknown("success")`); they are always sent in the spec's case.
pub const CASE_INSENSITIVE_ENUMS: &[&str] = &["OperationStatus", "EventDataCompletionStatus"];

/// How an override makes a required field lenient on decode. The Rust type is unchanged (so
/// building values stays as the spec says); only an absent field no longer fails the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lenient {
    /// Absent decodes as the type's `Default`.
    Default,
    /// Absent decodes as the value of this function (a path inside `contree-proto`).
    DefaultWith(&'static str),
}

/// Required fields that decode leniently when absent: `(schema, field, rule)`.
///
/// - Stream payloads (`StreamRepr`, `EventDataStream`): the official client and the service
///   treat a missing `encoding` as `ascii` (the default `ClosableStreamRepr` declares), and an
///   output stream with no `value` is empty output, not a broken operation.
/// - The `spawn` event: the SDK reads only `pid`; the rest echoes the request and older
///   service versions send a subset.
/// - The `exit` event: `pid`, `timed_out`, `duration_ms` and `resources` are informational; a
///   payload without them still carries the exit code and signal, which stay required, so a
///   malformed exit is never reported as an exit code.
/// - The `completion` event: `duration_ms` is informational; `status` stays required.
/// - The `shutdown` event: `stopped_at` is informational; `reason` stays required.
pub const DECODE_DEFAULTS: &[(&str, &str, Lenient)] = &[
    ("StreamRepr", "value", Lenient::Default),
    (
        "StreamRepr",
        "encoding",
        Lenient::DefaultWith("crate::lenient::ascii"),
    ),
    ("EventDataStream", "value", Lenient::Default),
    (
        "EventDataStream",
        "encoding",
        Lenient::DefaultWith("crate::lenient::ascii"),
    ),
    ("EventDataSpawn", "command", Lenient::Default),
    ("EventDataSpawn", "args", Lenient::Default),
    ("EventDataSpawn", "shell", Lenient::Default),
    ("EventDataSpawn", "cwd", Lenient::Default),
    ("EventDataSpawn", "uid", Lenient::Default),
    ("EventDataSpawn", "gid", Lenient::Default),
    ("EventDataSpawn", "timeout", Lenient::Default),
    ("EventDataSpawn", "truncate_at", Lenient::Default),
    ("EventDataExit", "pid", Lenient::Default),
    ("EventDataExit", "timed_out", Lenient::Default),
    ("EventDataExit", "duration_ms", Lenient::Default),
    ("EventDataExit", "resources", Lenient::Default),
    ("EventDataCompletion", "duration_ms", Lenient::Default),
    ("EventDataShutdown", "stopped_at", Lenient::Default),
];

/// The decode leniency of `owner.field`, if any.
pub fn decode_default(owner: &str, field: &str) -> Option<Lenient> {
    DECODE_DEFAULTS
        .iter()
        .find(|(o, f, _)| *o == owner && *f == field)
        .map(|(_, _, l)| *l)
}

/// Path and query parameters typed as UUIDs are sent as given (`String`): the service's ids
/// are not all RFC 4122 UUIDs (the spec's own examples include ULID-like ids and UUIDs of no
/// known version), so a client must not refuse, or re-format, an id the service handed out.
/// Response fields keep the UUID type.
pub fn path_or_query_ty(t: Ty) -> Ty {
    match t {
        Ty::Uuid => Ty::String,
        Ty::Named(n) if n == "UUIDSchema" => Ty::String,
        other => other,
    }
}
