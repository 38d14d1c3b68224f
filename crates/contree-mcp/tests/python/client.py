"""An independent MCP client (the official Python SDK) driving contree-mcp over stdio.

Usage: client.py BINARY  (CONTREE_BASE_URL, NEBIUS_API_KEY, NEBIUS_PROJECT_ID, CONTREE_HOME
are passed on to the server). Prints one line per check and exits non-zero on the first
failure.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

EXPECTED = sorted(
    [
        "run", "import_image", "registry_token_obtain", "registry_auth", "list_images",
        "get_image", "set_tag", "rsync", "upload", "download", "list_files", "read_file",
        "grep", "get_operation", "list_operations", "wait_operations", "cancel_operation",
        "whoami", "get_guide",
    ]
)


def structured(result):
    """The tool's JSON result: structuredContent, else the JSON text block."""
    if result.is_error:
        text = "".join(getattr(c, "text", "") for c in result.content)
        raise AssertionError(f"tool error: {text}")
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def main(binary: str) -> None:
    env = {
        k: os.environ[k]
        for k in ("CONTREE_BASE_URL", "NEBIUS_API_KEY", "NEBIUS_PROJECT_ID", "CONTREE_HOME", "HOME")
        if k in os.environ
    }
    params = StdioServerParameters(command=binary, args=[], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            tools = (await session.list_tools()).tools
            names = sorted(t.name for t in tools)
            assert names == EXPECTED, f"tools: {names}"
            for t in tools:
                assert t.input_schema.get("type") == "object", f"{t.name}: {t.input_schema}"
            print(f"ok list_tools: {len(names)} tools")

            out = structured(await session.call_tool("run", {"command": "echo hi", "image": "ubuntu:latest"}))
            assert out["stdout"] == "hi\n", out
            assert out["exit_code"] == 0 and out["status"] == "SUCCESS", out
            print("ok run: stdout", repr(out["stdout"]))

            images = structured(await session.call_tool("list_images", {"tagged": True}))["images"]
            tags = [i["tag"] for i in images]
            assert "ubuntu:latest" in tags, tags
            print(f"ok list_images: {len(images)} images")

            f = structured(await session.call_tool("read_file", {"image": "ubuntu:latest", "path": "/etc/hostname"}))
            assert f["encoding"] == "utf-8" and f["bytes_size"] == len(f["content"].encode()), f
            print("ok read_file:", repr(f["content"]))

            g = structured(
                await session.call_tool("grep", {"image": "ubuntu:latest", "pattern": "root", "path": "/etc/passwd"})
            )
            assert g["matches"] and g["matches"][0]["path"].endswith("/etc/passwd"), g
            assert "root" in g["matches"][0]["line_text"], g
            print(f"ok grep: {len(g['matches'])} matches")

            anon = {"i_accept_that_anonymous_access_might_be_rate_limited": True}
            started = structured(
                await session.call_tool(
                    "import_image", {"registry_url": "docker://docker.io/library/busybox:1.36", "wait": False, **anon}
                )
            )
            assert list(started) == ["operation_id"], started
            op = started["operation_id"]
            waited = structured(await session.call_tool("wait_operations", {"operation_ids": [op]}))
            assert waited["results"][op]["status"] == "SUCCESS", waited
            print("ok import_image wait=false:", op)

            failed = structured(
                await session.call_tool(
                    "import_image", {"registry_url": "docker://docker.io/library/no-such-image:1", **anon}
                )
            )
            assert failed["status"] == "FAILED" and failed["error"], failed
            print("ok import_image that fails: a result with status FAILED")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
