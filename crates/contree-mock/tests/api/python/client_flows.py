"""The official ConTree client (contree-client 0.4.4) against contree-mock, flow by flow.

Usage: python client_flows.py BASE_URL TOKEN PROJECT
Prints `FLOW-OK <name>` per flow and `CLIENT-FLOWS-OK <n>` at the end; any failure raises.
"""

import asyncio
import base64
import hashlib
import io
import sys
import tarfile

from contree_client.http import ContreeClient
from contree_client.models import ClosableStreamRepr, FileSpec, ImageImportRegistry

BASE, TOKEN, PROJECT = sys.argv[1], sys.argv[2], sys.argv[3]
FLOWS = []


def flow(fn):
    FLOWS.append(fn)
    return fn


def client():
    return ContreeClient(TOKEN, base_url=BASE, project=PROJECT)


def decode(stream):
    if stream.encoding == "base64":
        return base64.b64decode(stream.value)
    return stream.value.encode()


def run(c, command, **kw):
    op = c.spawn_instance(command, "tag:busybox:latest", shell=True, **kw).uuid
    return op, c.wait_operation(op, timeout=60)


@flow
def whoami():
    me = client().whoami()
    assert me.permissions["spawn"] is True, me
    assert me.operations_stat["total"] >= 0


@flow
def follow_events_to_completion():
    c = client()
    op = c.spawn_instance("echo out; echo err >&2; exit 7", "tag:busybox:latest",
                          shell=True).uuid
    events = list(c.follow_operation_events(op, timeout=60))
    types = [e.type for e in events]
    assert types[0] == "init" and types[-1] == "completion", types
    out = b"".join(decode(e.data) for e in events if e.type == "stdout")
    err = b"".join(decode(e.data) for e in events if e.type == "stderr")
    assert (out, err) == (b"out\n", b"err\n"), (out, err)
    exit_ev = next(e for e in events if e.type == "exit")
    assert exit_ev.data.code == 7, exit_ev
    assert [e.id for e in events] == sorted(e.id for e in events)


@flow
def wait_operation_result():
    c = client()
    op, done = run(c, "printf 'a\\x00b' ; echo tail >&2")
    assert done.status == "SUCCESS", done
    res = done.metadata.result
    assert decode(res.stdout) == b"a\x00b", res.stdout
    assert decode(res.stderr) == b"tail\n"
    assert res.state.exit_code == 0
    assert done.result_image_uuid
    status = c.get_operation_status(op)
    assert status.status == "SUCCESS" and status.duration >= 0


@flow
def iter_events_after_assignment():
    c = client()
    op = c.spawn_instance("echo first; sleep 0.3; echo second", "tag:busybox:latest",
                          shell=True).uuid
    c.wait_operation(op, timeout=60)
    events = list(c.iter_operation_events(op))
    assert events[-1].type == "completion"
    since = events[2].id
    later = list(c.iter_operation_events(op, since=since))
    assert [e.id for e in later] == [e.id for e in events if e.id > since]
    only_main = list(c.iter_operation_events(op, spid=1))
    assert {e.spid for e in only_main} == {1}, only_main
    stdout = b"".join(decode(e.data) for e in only_main if e.type == "stdout")
    assert stdout == b"first\nsecond\n", stdout


@flow
def files_upload_dedup_and_use():
    c = client()
    data = b"payload for the witness\n"
    up = c.upload_file(data)
    assert up.sha256 == hashlib.sha256(data).hexdigest() and up.size == len(data)
    assert c.check_file_exists(up.sha256) is True
    assert c.check_file_exists("0" * 64) is False
    again = c.ensure_file(data)
    assert again.uuid == up.uuid
    assert c.get_file(up.sha256).uuid == up.uuid
    assert any(f.uuid == up.uuid for f in c.iter_files())
    _, done = run(c, "cat /in/p.txt", files={"/in/p.txt": FileSpec(uuid=up.uuid, mode="0600")})
    assert decode(done.metadata.result.stdout) == data


@flow
def inspect_list_download_archive():
    c = client()
    _, done = run(c, "mkdir -p /w/d; echo hello > /w/d/h.txt")
    img = done.result_image_uuid
    listing = c.inspect_image_list(img, "/w/d")
    assert [f.path for f in listing.files] == ["h.txt"], listing
    assert listing.files[0].size == 6
    assert c.inspect_image_download(img, "/w/d/h.txt") == b"hello\n"
    assert c.check_image_file(img, "/w/d/h.txt") is True
    assert c.check_image_file(img, "/w/d/missing") is False
    tar_bytes = b"".join(c.inspect_image_archive(img, "/w/d"))
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
        names = t.getnames()
        member = next(m for m in t.getmembers() if m.name.endswith("h.txt"))
        assert t.extractfile(member).read() == b"hello\n", names
    assert c.inspect_image(img).uuid == img
    assert c.inspect_find_image_by_tag("busybox:latest") == c.resolve_image("tag:busybox:latest")


@flow
def grep():
    c = client()
    _, done = run(c, "mkdir -p /g; printf 'alpha\\nbeta\\nALPHA2\\n' > /g/a.txt; "
                     "echo alphabet > /g/b.md")
    img = done.result_image_uuid
    res = c.inspect_image_grep(img, "alpha", path="/g", case="insensitive")
    hits = sorted((m.path, m.line_number) for m in res.matches)
    assert hits == [("/g/a.txt", 1), ("/g/a.txt", 3), ("/g/b.md", 1)], hits
    res = c.inspect_image_grep(img, ["beta", "alphabet"], path="/g", glob="*.txt")
    assert [m.line_text.strip() for m in res.matches] == ["beta"], res.matches
    assert res.truncated is False


@flow
def tags():
    c = client()
    _, done = run(c, "echo t > /tagged")
    img = done.result_image_uuid
    tagged = c.update_image_tag(img, "client-witness:1")
    assert tagged.uuid == img and tagged.tag == "client-witness:1", tagged
    assert c.inspect_find_image_by_tag("client-witness:1") == img
    rows = c.list_images(tag="client-witness").images
    assert [(r.uuid, r.tag) for r in rows] == [(img, "client-witness:1")], rows
    c.delete_image_tag(img, tag="client-witness:1")
    assert c.list_images(tag="client-witness").images == []


@flow
def import_and_poll():
    c = client()
    op = c.import_image(ImageImportRegistry(url="docker://docker.io/library/debian:bookworm"),
                        tag="deb:witness")
    done = c.wait_operation(op, timeout=60)
    assert done.status == "SUCCESS", done
    assert c.inspect_find_image_by_tag("deb:witness") == done.result_image_uuid
    bad = c.wait_operation(c.import_image(ImageImportRegistry(url="docker://nope/none")),
                           timeout=60)
    assert bad.status == "FAILED" and bad.error, bad


@flow
def subprocesses():
    c = client()
    op = c.spawn_instance("sleep 30", "tag:busybox:latest", shell=True).uuid
    for _ in range(200):
        if c.get_operation_status(op).status == "EXECUTING":
            break
    spid = c.operation_subprocess_create(op, "cat", stdin=ClosableStreamRepr(value="", close=False))
    assert spid >= 2, spid
    c.operation_subprocess_stdin(op, spid, "to cat\n", close=True)
    sub = None
    for e in c.follow_operation_events(op, spid=spid, timeout=30):
        if e.type == "exit":
            sub = c.operation_subprocess(op, spid)
            break
    assert sub is not None and decode(sub.stdout) == b"to cat\n", sub
    assert sub.state.exit_code == 0
    c.operation_subprocess_kill(op, 1, signal="TERM")
    done = c.wait_operation(op, timeout=30)
    assert done.metadata.result.state.signal == 15, done.metadata.result.state


@flow
def cancel_and_list():
    c = client()
    op = c.spawn_instance("sleep 30", "tag:busybox:latest", shell=True).uuid
    c.cancel_operation(op)
    done = c.wait_operation(op, timeout=30)
    assert done.status == "CANCELLED", done
    ids = [o.uuid for o in c.iter_operations(status="CANCELLED")]
    assert op in ids, ids
    kinds = {o.kind for o in c.iter_operations(kind="image_import")}
    assert kinds <= {"image_import"}


@flow
def async_client():
    from contree_client.httpx import ContreeAsyncClient

    async def main():
        async with ContreeAsyncClient(TOKEN, base_url=BASE, project=PROJECT) as c:
            op = (await c.spawn_instance("echo async", "tag:busybox:latest", shell=True)).uuid
            types = [e.type async for e in c.follow_operation_events(op, timeout=60)]
            assert types[-1] == "completion", types
            done = await c.wait_operation(op, timeout=60)
            assert decode(done.metadata.result.stdout) == b"async\n"

    asyncio.run(main())


def main():
    for fn in FLOWS:
        fn()
        print("FLOW-OK", fn.__name__, flush=True)
    print("CLIENT-FLOWS-OK", len(FLOWS), flush=True)


main()
