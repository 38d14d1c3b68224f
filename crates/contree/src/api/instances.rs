//! Instance calls: spawning runs, subprocesses of a running VM, and `whoami`.

use contree_proto::{requests, types};

use crate::client::Contree;
use crate::error::{Error, Result};

/// `POST /instances`: the new operation's id.
///
/// The 201 answer is proto's `InstanceSpawnResponse`: the operation `uuid` and an echo of the
/// request, whose `image` may be the `tag:…` the request gave (an override in
/// `xtask/src/codegen/overrides.rs`, `IMAGE_SOURCE_FIELDS`).
pub(crate) async fn spawn(
    client: &Contree,
    body: types::InstanceSpawnRequest,
    action: &str,
) -> Result<String> {
    let req = requests::SpawnInstance::new(body);
    let created: types::InstanceSpawnResponse = super::call_json(client, &req, action).await?;
    created
        .uuid
        .map(|u| u.to_string())
        .ok_or_else(|| Error::decode(action, "the spawn answer has no operation uuid"))
}

/// `POST /operations/{id}/subprocesses`: the new subprocess's spid.
pub(crate) async fn create_subprocess(
    client: &Contree,
    op_id: &str,
    spec: types::ExecSpec,
    action: &str,
) -> Result<u64> {
    let req = requests::OperationSubprocessCreate::new(op_id, spec);
    let s: types::OperationSubprocessCreateCreatedBody =
        super::call_json(client, &req, action).await?;
    u64::try_from(s.spid)
        .map_err(|_| Error::decode(action, format!("negative spid {} in the answer", s.spid)))
}

/// `GET /operations/{id}/subprocesses/{spid}`: the subprocess's result.
pub(crate) async fn get_subprocess(
    client: &Contree,
    op_id: &str,
    spid: u64,
    action: &str,
) -> Result<types::InstanceResult> {
    let req = requests::OperationSubprocess::new(op_id, spid_i64(spid));
    super::call_json(client, &req, action).await
}

/// `DELETE /operations/{id}/subprocesses/{spid}?signal=`: signals the subprocess.
pub(crate) async fn kill_subprocess(
    client: &Contree,
    op_id: &str,
    spid: u64,
    signal: String,
    action: &str,
) -> Result<()> {
    let mut req = requests::OperationSubprocessKill::new(op_id, spid_i64(spid));
    req.signal = Some(signal);
    super::call(client, &req, action).await?;
    Ok(())
}

/// `POST /operations/{id}/subprocesses/{spid}/stdin`: writes (and maybe closes) stdin.
pub(crate) async fn subprocess_stdin(
    client: &Contree,
    op_id: &str,
    spid: u64,
    data: &[u8],
    close: bool,
    action: &str,
) -> Result<()> {
    let body = types::ClosableStreamRepr::from_bytes(data, close);
    let req = requests::OperationSubprocessStdin::new(op_id, spid_i64(spid), body);
    super::call(client, &req, action).await?;
    Ok(())
}

/// `GET /whoami`.
pub(crate) async fn whoami(client: &Contree) -> Result<types::WhoAmIResponse> {
    super::call_json(client, &requests::WhoAmI::new(), "whoami").await
}

fn spid_i64(spid: u64) -> i64 {
    i64::try_from(spid).unwrap_or(i64::MAX)
}
