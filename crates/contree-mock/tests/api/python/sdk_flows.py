"""The official ConTree SDK (contree-sdk 0.3.6) against contree-mock, flow by flow.

Usage: python sdk_flows.py BASE_URL TOKEN PROJECT WORKDIR
Prints `FLOW-OK <name>` per flow and `SDK-FLOWS-OK <n>` at the end; any failure raises.
"""

import asyncio
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from contree_sdk import Contree, ContreeSync
from contree_sdk.auth import IAMAuth
from contree_sdk.config import ContreeConfig
from contree_sdk.utils.models.file import UploadFileSpec

BASE, TOKEN, PROJECT, WORK = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
FLOWS = []


def flow(fn):
    FLOWS.append(fn)
    return fn


def client():
    # The documented shorthand is IAM auth: the project comes from NEBIUS_PROJECT_ID (set by
    # the test harness for this process), the token and base URL from the arguments.
    return ContreeSync(base_url=BASE, token=TOKEN)


@flow
def client_from_token_and_base_url():
    c = client()
    info = c.get_token_info()
    assert info.permissions.get("spawn") is True, info
    assert "instance_max_timeout" in info.limits, info


@flow
def client_from_env():
    # Every auth field names an environment variable, resolved once at construction.
    c = ContreeSync(ContreeConfig(auth=IAMAuth(base_url="CONTREE_BASE_URL")))
    assert c.config.auth.token == TOKEN
    assert c.config.auth.project_id == PROJECT
    assert c.get_token_info().token_uuid


@flow
def images_listing():
    c = client()
    images = c.images()
    tags = {i.tag for i in images}
    assert {"ubuntu:latest", "busybox:latest", "alpine:latest"} <= tags, tags
    assert all(i.uuid for i in images)
    tagged = c.images(number=2, tagged=True, since=timedelta(days=3650))
    assert len(tagged) == 2, tagged
    every = list(c.images)
    assert len(every) >= len(images)


@flow
def use_lazy_and_strict():
    c = client()
    lazy = c.images.use("busybox:latest")
    assert lazy.uuid is None and lazy.tag == "busybox:latest"
    strict = c.images.use("busybox:latest", strict=True)
    assert strict.uuid is not None and strict.tag == "busybox:latest"
    by_uuid = c.images.use(strict.uuid, strict=True)
    assert by_uuid.uuid == strict.uuid
    r = lazy.run(shell="echo lazy").wait()
    assert r.stdout == "lazy\n", r.stdout


@flow
def oci_existing_and_imported():
    c = client()
    existing = c.images.oci("docker://docker.io/library/alpine:latest")
    assert existing.uuid is not None and existing.tag == "alpine:latest", existing
    imported = c.images.oci("docker://docker.io/library/alpine:3.20")
    assert imported.uuid is not None and imported.tag == "alpine:3.20", imported
    again = c.images.use("alpine:3.20", strict=True)
    assert again.uuid == imported.uuid
    r = imported.run(shell="cat /etc/alpine-release").wait()
    assert r.stdout.startswith("3.20"), r.stdout


@flow
def run_shell_command_args_env_cwd():
    img = client().images.use("busybox:latest")
    r = img.run(shell="echo $GREETING from $(pwd); echo oops >&2; exit 3",
                env={"GREETING": "hello"}, cwd="/tmp").wait()
    assert r.stdout == "hello from /tmp\n", r.stdout
    assert r.stderr == "oops\n", r.stderr
    assert r.exit_code == 3
    r = img.run("echo", args=["a", "b c"]).wait()
    assert r.stdout == "a b c\n", r.stdout
    assert r.exit_code == 0
    assert r.elapsed.total_seconds() >= 0


@flow
def run_stdin_files_timeout():
    img = client().images.use("busybox:latest")
    r = img.run(shell="cat; echo; cat /in/data.txt /in/bytes.bin", stdin="from stdin",
                files={"/in/data.txt": WORK / "data.txt", "/in/bytes.bin": b"raw bytes\n"}).wait()
    assert r.stdout == "from stdin\nlocal file\nraw bytes\n", r.stdout
    spec = UploadFileSpec(source=WORK / "tool.sh", path="/usr/bin/tool.sh",
                          mode=stat.S_IRWXU)
    r = img.run(shell="stat -c %a /usr/bin/tool.sh; /usr/bin/tool.sh", files=[spec]).wait()
    assert r.stdout == "700\ntool ran\n", r.stdout
    r = img.run(shell="sleep 30", timeout=1).wait()
    assert r.result._raw.result.state.timed_out is True
    assert r.exit_code == -1


@flow
def chaining_from_a_result():
    img = client().images.use("busybox:latest")
    first = img.run(shell="echo one > /chain.txt", disposable=False).wait()
    assert first.uuid is not None
    second = first.run(shell="echo two >> /chain.txt; cat /chain.txt", disposable=False).wait()
    assert second.stdout == "one\ntwo\n", second.stdout
    # A run that changes nothing keeps its image UUID.
    same = second.run(shell="true", disposable=False).wait()
    assert same.uuid == second.uuid
    assert first.read("/chain.txt") == b"one\n"


@flow
def sessions():
    s = client().images.use("busybox:latest").session()
    s.run(shell="echo step1 > /s.txt", disposable=False).wait()
    s.run(shell="echo step2 >> /s.txt", disposable=False).wait()
    r = s.run(shell="cat /s.txt", disposable=False).wait()
    assert r.stdout == "step1\nstep2\n", r.stdout
    assert s.read("/s.txt") == b"step1\nstep2\n"


@flow
def ls_read_download():
    img = client().images.use("busybox:latest")
    r = img.run(shell="mkdir -p /d/sub; echo content > /d/f.txt", disposable=False).wait()
    items = {i.name: i for i in r.ls("/d")}
    assert set(items) == {"f.txt", "sub"}, items
    assert items["sub"].is_dir and items["f.txt"].is_file
    assert items["f.txt"].size == 8
    assert items["f.txt"].read() == b"content\n"
    assert [i.name for i in items["sub"].ls()] == []
    assert r.read("/d/f.txt") == b"content\n"
    out = r.download("/d/f.txt", WORK / "downloaded.txt")
    assert Path(out).read_bytes() == b"content\n"


@flow
def tags():
    c = client()
    r = c.images.use("busybox:latest").run(shell="echo t > /t", disposable=False).wait()
    r.tag_as("sdk-witness:1")
    found = c.images.use("sdk-witness:1", strict=True)
    assert found.uuid == r.uuid, (found, r)
    assert "sdk-witness:1" in {i.tag for i in c.images(tagged=True)}
    r.untag()
    assert "sdk-witness:1" not in {i.tag for i in c.images(tagged=True)}
    tagged = c.images.use("busybox:latest").run(shell="echo x > /x", tag="sdk-witness:2",
                                               disposable=False).wait()
    assert c.images.use("sdk-witness:2", strict=True).uuid == tagged.uuid


@flow
def popen():
    # popen runs are disposable (SDK 0.3.6), so each starts from the image, not a session.
    s = client().images.use("busybox:latest")
    proc = s.popen(["cat"], text=True)
    out, err = proc.communicate("a\nb\nc\n")
    assert out == "a\nb\nc\n" and err == "", (out, err)
    assert proc.returncode == 0
    proc = s.popen("echo hello && exit 4", shell=True, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    proc.wait()
    assert proc.returncode == 4
    proc = s.popen("exit 5", shell=True, check=True)
    try:
        proc.wait()
        raise AssertionError("check=True must raise")
    except subprocess.CalledProcessError as e:
        assert e.returncode == 5


@flow
def async_client():
    async def main():
        c = Contree(base_url=BASE, token=TOKEN)
        images = await c.images()
        assert any(i.tag == "ubuntu:latest" for i in images)
        img = await c.images.use("ubuntu:latest")
        r = await img.run(shell="echo async; echo e >&2", disposable=False)
        assert r.stdout == "async\n" and r.stderr == "e\n", (r.stdout, r.stderr)
        r2 = await r.run(shell="echo chained > /a.txt", disposable=False)
        assert await r2.read("/a.txt") == b"chained\n"
        s = img.session()
        await s.run(shell="echo 1 > /n", disposable=False)
        r3 = await s.run(shell="cat /n", disposable=False)
        assert r3.stdout == "1\n"
        up = await c.files.upload(WORK / "data.txt")
        assert len(up.sha256) == 64
        gathered = await asyncio.gather(*(img.run(shell=f"echo {i}") for i in range(3)))
        assert [g.stdout for g in gathered] == ["0\n", "1\n", "2\n"]

    asyncio.run(main())


def main():
    (WORK / "data.txt").write_text("local file\n")
    (WORK / "tool.sh").write_text("#!/bin/sh\necho tool ran\n")
    for fn in FLOWS:
        fn()
        print("FLOW-OK", fn.__name__, flush=True)
    print("SDK-FLOWS-OK", len(FLOWS), flush=True)


main()
