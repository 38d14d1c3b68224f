"""Schemathesis hooks for `cargo xtask fuzz-api` (loaded through SCHEMATHESIS_HOOKS).

1. Real data: at import, the hooks create an uploaded file, a finished instance whose image holds
   files (tagged `fuzz:base`), and a long-running instance; generated ids that are well formed are
   swapped for these so every operation reaches its 2xx paths, not only 404s. Malformed values
   (negative test cases) are left alone.
2. ALLOWED: the short list of failures that are defects of the spec, not of the mock. Each entry
   names the operation, the failure code and a predicate, and says why (docs/SPEC-DEFECTS.md has
   the long form). Any other failure, and any 5xx, fails the run.
"""

import json
import os
import re
import sys
import time
import urllib.request

import schemathesis

BASE = os.environ["CONTREE_FUZZ_BASE_URL"] + "/v1"
HEADERS = {
    "Authorization": "Bearer " + os.environ["CONTREE_FUZZ_TOKEN"],
    "Project": os.environ["CONTREE_FUZZ_PROJECT"],
}
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def api(method, path, body=None, raw=None):
    data, headers = None, dict(HEADERS)
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if raw is not None:
        data, headers["Content-Type"] = raw, "application/octet-stream"
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
        return json.loads(text) if text else None


def wait_status(op, want):
    for _ in range(3000):
        status = api("GET", f"/operations/{op}")["status"]
        if status in want:
            return status
        time.sleep(0.01)
    raise RuntimeError(f"operation {op} never reached {want}")


def spawn(command, **kw):
    return api("POST", "/instances", {"command": command, "image": "tag:busybox:latest",
                                      "shell": True, **kw})["uuid"]


FILE = api("POST", "/files", raw=b"fuzz data\n")
FINISHED = spawn("mkdir -p /data/sub; echo hello > /data/hello.txt; echo x > /data/sub/x.md",
                 files={"/data/up.txt": {"uuid": FILE["uuid"], "mode": "0644"}})
wait_status(FINISHED, {"SUCCESS"})
IMAGE = api("GET", f"/operations/{FINISHED}")["result_image_uuid"]
api("PATCH", f"/images/{IMAGE}/tag", {"tag": "fuzz:base"})
RUNNING = None


def running_op():
    """A long-running instance (re-spawned if something cancelled or killed it)."""
    global RUNNING
    if RUNNING is None or api("GET", f"/operations/{RUNNING}")["status"] != "EXECUTING":
        RUNNING = spawn("sleep 3600")
        wait_status(RUNNING, {"EXECUTING"})
    return RUNNING


def fresh_subprocess(command, **kw):
    op = running_op()
    return op, api("POST", f"/operations/{op}/subprocesses",
                   {"command": command, "shell": True, **kw})["spid"]


print(f"fuzz-api hooks: file {FILE['sha256'][:12]}, image {IMAGE}, op {FINISHED}",
      file=sys.stderr)
TICKS = {}


def mostly(key):
    """Two calls in three per key: real data mostly, generated data sometimes."""
    TICKS[key] = TICKS.get(key, 0) + 1
    return TICKS[key] % 3 != 0


def label(context):
    op = context.operation
    return f"{op.method.upper()} {op.path}" if op is not None else ""


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    if not isinstance(path_parameters, dict):
        return path_parameters
    lbl = label(context)
    p = dict(path_parameters)
    for key in ("imageUUID", "image_uuid"):
        if isinstance(p.get(key), str) and UUID_RE.match(p[key]) and mostly(lbl + key):
            p[key] = IMAGE
    if isinstance(p.get("sha256"), str) and HEX64_RE.match(p["sha256"]) and mostly(lbl + "sha"):
        p["sha256"] = FILE["sha256"]
    op_id = p.get("operationId")
    if isinstance(op_id, str) and UUID_RE.match(op_id) and mostly(lbl + "op"):
        if lbl == "DELETE /operations/{operationId}":
            p["operationId"] = spawn("sleep 3600")  # something to cancel
        elif "/subprocesses" in lbl:
            spid = p.get("spid")
            if lbl.endswith("/stdin") and isinstance(spid, int) and spid >= 1:
                p["operationId"], p["spid"] = fresh_subprocess("cat", stdin={
                    "value": "", "close": False})
            elif lbl.startswith("DELETE") and isinstance(spid, int) and spid >= 1:
                p["operationId"], p["spid"] = fresh_subprocess("sleep 3600")
            else:
                p["operationId"] = running_op()
                if isinstance(spid, int) and spid >= 1:
                    p["spid"] = 1
        else:
            p["operationId"] = FINISHED  # events end at `completion`; a finished op has them all
    return p


@schemathesis.hook
def map_query(context, query):
    if not isinstance(query, dict):
        return query
    lbl, q = label(context), dict(query)
    if isinstance(q.get("path"), str) and mostly(lbl + "path"):
        q["path"] = "/data" if lbl.endswith(("/list", "/grep", "/archive")) else "/data/hello.txt"
    if lbl == "GET /inspect/" and isinstance(q.get("tag"), str) and mostly(lbl + "tag"):
        q["tag"] = "fuzz:base"
    return q


@schemathesis.hook
def map_body(context, body):
    lbl = label(context)
    if not isinstance(body, dict) or lbl != "POST /instances":
        return body
    b = dict(body)
    if isinstance(b.get("image"), str) and mostly(lbl + "image"):
        b["image"] = "tag:busybox:latest"
    if isinstance(b.get("files"), dict):
        b["files"] = {k: ({**v, "uuid": FILE["uuid"]}
                          if isinstance(v, dict) and isinstance(v.get("uuid"), str)
                          and UUID_RE.match(v["uuid"]) else v)
                      for k, v in b["files"].items()}
    return b


# -------------------------------------------------------------------------------------------
# The allow-list: (operation label or "*", failure code, predicate(case, response, failure), why)

def query_value_rejected(*names):
    """A 400 that names one of these query parameters."""
    def pred(case, response, failure):
        text = response.content.decode("utf-8", "replace") if response is not None else ""
        return response is not None and response.status_code == 400 and any(
            f"`{n}`" in text for n in names)
    return pred


def status_is(*codes):
    return lambda case, response, failure: response is not None and response.status_code in codes


def always(case, response, failure):
    return True


def rejected(status, *fragments):
    """A response with this status whose body contains one of the fragments."""
    def pred(case, response, failure):
        if response is None or response.status_code != status:
            return False
        text = response.content.decode("utf-8", "replace")
        return not fragments or any(f in text for f in fragments)
    return pred


def message_has(*fragments):
    return lambda case, response, failure: any(f in str(failure) for f in fragments)


INSPECT_REDIRECTS = ("GET /inspect", "GET /inspect/{imageUUID}")
SPAWNS = ("POST /instances", "POST /operations/{operationId}/subprocesses")

ALLOWED = [
    # Response shapes the spec gets wrong.
    ("GET /operations/{operationId}", "ST108", message_has("oneOf", "more than one"),
     "OperationMetadata is a oneOf whose ImageImportMetadata branch (all optional) matches "
     "every instance metadata, so no instance body satisfies it"),
    ("GET /operations/{operationId}/events", "ST108", always,
     "the SSE body is declared `type: string, format: binary`, which no parsed event matches"),
    # Statuses the spec leaves out.
    *((op, "ST103", status_is(401),
       "the /inspect redirects document no 401, yet every endpoint needs the bearer token")
      for op in INSPECT_REDIRECTS),
    ("GET /inspect/{imageUUID}", "ST201", status_is(307),
     "the trailing-slash redirect precedes path validation; its target answers 400"),
    # Request shapes the spec types differently from what clients send.
    ("GET /files", "ST201", message_has("`since`", "`until`"),
     "/files types since/until as date-time, but clients send Unix times and 15m-style "
     "intervals as on the other list endpoints"),
    ("*", "ST201", message_has("`text`"),
     "`text` is declared boolean but works by presence (PROTOCOL.md 9 #9)"),
    ("POST /files", "ST201", message_has("Missing request body"),
     "an empty upload is the empty file (the official SDK uploads empty files)"),
    # Constraints the service enforces that the spec does not state (documented 400s).
    ("DELETE /operations/{operationId}/subprocesses/{spid}", "ST202",
     rejected(400, "unknown signal"), "`signal` is a free string; only signal names/numbers work"),
    ("*", "ST202", rejected(400, "query parameter `since`", "query parameter `until`"),
     "SinceParameter is a bare string; only ISO 8601, Unix times and intervals parse"),
    *((op, "ST202", rejected(400, "is not a valid tag"),
       "tags have no pattern in these bodies, but a tag must look like `name:version`")
      for op in ("PATCH /images/{imageUUID}/tag", "POST /images/import")),
    *((op, "ST202", rejected(400, "timeout", "truncate_output_at", "uid must", "gid must",
                             "64-bit", "max_layer_bytes"),
       "integers without the minimum/maximum the service enforces (timeout within "
       "instance_max_timeout, non-negative sizes, 32-bit ids)")
      for op in (*SPAWNS, "POST /images/import")),
    ("*", "ST202", rejected(400, "is not valid base64"),
     "a stream `value` with `encoding: base64` must be base64; the schema cannot say so"),
    ("POST /images/import", "ST202", rejected(400, "registry.url must not be empty"),
     "registry.url has no minLength, but an empty reference names no image"),
    ("POST /instances", "ST202", rejected(400, "is not an absolute path"),
     "`files` keys are described as absolute paths but have no pattern"),
    ("POST /instances", "ST202", rejected(400, "not found", "no uploaded file with uuid"),
     "spawn documents no 404, so an unknown image or file is a 400 (the spec's own example "
     "names a file uuid no server has)"),
    # Documented statuses that depend on state, not on the request's shape.
    ("POST /operations/{operationId}/subprocesses/{spid}/stdin", "ST202", status_is(410),
     "stdin of an operation that has finished is 410 (documented)"),
    ("*", "ST202", lambda case, response, failure: response is not None
     and response.status_code == 422 and case.operation.path.startswith("/inspect/"),
     "a path of the wrong kind (a directory to download, a file to list) is schema-valid; "
     "the inspect endpoints document 422 for it"),
    ("DELETE /operations/{operationId}", "ST301", always,
     "DELETE on an operation cancels it; the cancelled operation stays readable (by design)"),
    ("*", "ST302", rejected(404, "no live process"),
     "a subprocess that already exited (e.g. a syntax error) has no stdin to write or kill"),
    ("*", "ST202", lambda case, response, failure: response is not None
     and response.status_code == 400
     and any(str(v) == "None" for v in (case.path_parameters or {}).values()),
     "stateful links from nullable ids (image_uuid of an import is null) render as `None`"),
]
USED = {}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    op = failure.operation or label(context)
    for i, (who, code, pred, _why) in enumerate(ALLOWED):
        if (who == "*" or who == op) and failure.code == code and pred(case, response, failure):
            USED[i] = USED.get(i, 0) + 1
            return False
    return True


SUCCESSES = {}


@schemathesis.hook
def after_call(context, case, response):
    op = case.operation
    lbl = f"{op.method.upper()} {op.path}"
    SUCCESSES.setdefault(lbl, 0)
    if 200 <= response.status_code < 400:
        SUCCESSES[lbl] += 1


def _report():
    with open(os.environ["CONTREE_FUZZ_SUMMARY"], "w") as f:
        json.dump({"successes": SUCCESSES, "allowed": {
            f"{code} {who}: {why}": USED.get(i, 0)
            for i, (who, code, _pred, why) in enumerate(ALLOWED)}}, f, indent=1)


import atexit  # noqa: E402

atexit.register(_report)
