"""Scenario 6 of `cargo xtask bench`: the official Python SDK (contree-sdk) doing scenarios 1 and 2.

usage: py_bench.py seq|fanout --base URL --token T --project P --image UUID --n N
                   [--warmup W] [--concurrency C] [--script S] [--expect E]

Prints one line `RESULT {json}` (latencies in microseconds, peak RSS from /proc/self/status;
in seq mode also when each run returned, for scenario 7's overhead against the mock's timings).
The caller sets CONTREE_HOME to an empty directory so no auth.ini is read.
"""

import argparse
import asyncio
import json
import time


def describe(e):
    """One line for an error; for an exception group (cattrs), follow its first leaf."""
    parts = [f"{type(e).__name__}: {e}"]
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
        notes = "; ".join(getattr(e, "__notes__", []))
        parts.append(f"{type(e).__name__}: {e}" + (f" ({notes})" if notes else ""))
    return " -> ".join(parts)


def outcome(results):
    """The latencies of the runs that succeeded, and the count and first cause of the others."""
    errs = [r for r in results if not isinstance(r, int)]
    return {
        "latencies_us": [r for r in results if isinstance(r, int)],
        "attempts": len(results),
        "errors": len(errs),
        "first_error": (describe(errs[0]) if errs else None),
    }


def rss_kib():
    hwm = rss = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return hwm, rss


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["seq", "fanout"])
    p.add_argument("--base", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--project", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--script", default="echo hello")
    p.add_argument("--expect", default="hello\n")
    a = p.parse_args()

    from contree_sdk import Contree
    from contree_sdk.auth import IAMAuth
    from contree_sdk.config import ContreeConfig

    client = Contree(ContreeConfig(auth=IAMAuth(token=a.token, project_id=a.project, base_url=a.base)))
    img = await client.images.use(a.image)

    async def one():
        t = time.perf_counter()
        # disposable=False like the Rust SDK's default, so the server does the same work.
        r = await img.run(shell=a.script, disposable=False)
        dt = time.perf_counter() - t
        if r.exit_code != 0 or r.stdout != a.expect:
            raise RuntimeError(f"unexpected run result: exit {r.exit_code} stdout {r.stdout!r}")
        return int(dt * 1e6)

    returned = []

    async def attempt(results):
        # A failed run is counted and reported, not retried: the SDK's own failures are a finding.
        try:
            results.append(await one())
            returned.append(time.time_ns() // 1000)
        except Exception as e:  # noqa: BLE001 - counted and reported
            results.append(e)
            returned.append(None)

    warm = []
    for _ in range(a.warmup):
        await attempt(warm)

    if a.mode == "seq":
        results = []
        cpu_before = time.process_time()
        started = time.perf_counter()
        del returned[:]
        for _ in range(a.n):
            await attempt(results)
        total = int((time.perf_counter() - started) * 1e6)
        hwm, rss = rss_kib()
        out = {
            **outcome(results),
            # Unix µs at which each measured run returned (None: it failed), in run order; its
            # operation is the (warmup + i)-th one the mock recorded.
            "returned_unix_us": list(returned),
            "total_us": total,
            "hwm_kib": hwm,
            "rss_kib": rss,
            "cpu_us": int((time.process_time() - cpu_before) * 1e6),
        }
    else:
        _, baseline = rss_kib()
        # `concurrency` workers share the n runs (like the Rust side's buffer_unordered): at most
        # `concurrency` runs are in flight, and no more coroutines exist than that.
        remaining = [a.n]
        results = []

        async def worker():
            while remaining[0] > 0:
                remaining[0] -= 1
                await attempt(results)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(a.concurrency)))
        wall = int((time.perf_counter() - started) * 1e6)
        hwm, rss = rss_kib()
        out = {
            **outcome(results),
            "wall_us": wall,
            "hwm_kib": hwm,
            "rss_kib": rss,
            "baseline_rss_kib": baseline,
        }
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
