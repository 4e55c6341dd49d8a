"""The reliability soak: bad input, crashes and load, each as figures (issue: keeps working under
load, faults and bad input). docs/reliability.md holds a run's output.

    python -m benchmarks.soak            # about 15-20 minutes on the 2-core CPU
    python -m benchmarks.soak --quick    # a few minutes: fewer cases, kills and requests

Sections (each prints its figures; the exit code is 1 if any failure, mismatch or crash was seen):
  bad input  tests/test_bad_input.py under Hypothesis with VIDGEN_HYPOTHESIS_SCALE times the default
             cases, and the app's generate API through gradio_client (tests/test_app.py's property):
             cases tried per entry point and failures;
  crashes    SIGKILL a tiny training run at random moments (half of them inside checkpoint writes),
             resume each time, compare with an uninterrupted run bit for bit; the same for export;
  load       app.py in its own process, its default model (checkpoints/release-2step, or --checkpoint); N concurrent
             gradio_client users send generations at default settings until the planned number of
             videos is served (busy answers do not count): served / told busy / failed, p50 and p95 latency, throughput, the server's
             memory once a quarter of the load is served (warm-up) and at the end, and how fast
             Stop frees the worker.
Only loopback traffic; every loop is bounded in count and in time. Run on an idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from vidgen.shipped import DEFAULT_MODEL, SHIPPED_MODELS
from vidgen.training import faults

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- bad input

APP_PROPERTY = "tests/test_app.py::test_the_generate_api_answers_anything_with_a_video_or_an_app_error"  # through gradio_client

def bad_input(scale: int) -> dict:
    """Run the property tests with `scale` times their cases; -> {test: cases}, failures."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/test_bad_input.py", APP_PROPERTY, "-p", "no:warnings", "-p", "no:cacheprovider",
                           "--hypothesis-show-statistics", "-q", "-rf"],
                          cwd=ROOT, env={**os.environ, "VIDGEN_HYPOTHESIS_SCALE": str(scale)}, capture_output=True, text=True)
    cases, current = {}, None
    for line in proc.stdout.splitlines():
        m = re.match(r"^tests/test_\w+\.py::(\S+):", line)
        if m:
            current = m.group(1)
        m = re.search(r"(\d+) passing examples?, (\d+) failing examples?", line)
        if m and current:
            cases[current] = cases.get(current, 0) + int(m.group(1)) + int(m.group(2))
    failed = re.findall(r"^FAILED (\S+)", proc.stdout, flags=re.M)
    summary = f"pytest exit code {proc.returncode}" + (f": {proc.stderr.strip()[-300:]}" if proc.returncode else "")
    return {"cases": cases, "total_cases": sum(cases.values()), "failed_tests": failed, "pytest": summary,
            "exit_code": proc.returncode, "seconds": round(time.time() - t0, 1)}


# ----------------------------------------------------------------------------- crashes

def crashes(kills: int, export_kills: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        faults.uninterrupted(tmp / "straight", "tiny", steps)
        train = faults.kill_and_resume(tmp / "killed", "tiny", steps, kills=kills, seed=7)
        mismatches = faults.compare_runs(tmp / "straight", tmp / "killed")
        faults.uninterrupted(tmp / "other", "tiny", max(2, steps // 2))
        export = faults.kill_exports([tmp / "straight", tmp / "other"], tmp / "release", kills=export_kills, seed=7)
    return {"train_kills": train.kills, "train_kills_inside_a_write": train.kills_during_write,
            "unreadable_after_a_kill": train.unreadable, "mismatches_with_uninterrupted_run": mismatches,
            "export_runs": export_kills, "export_kills": export.kills, "export_kills_inside_a_write": export.kills_during_write,
            "export_violations": export.unreadable, "seconds": round(train.seconds + export.seconds, 1)}


# ----------------------------------------------------------------------------- load

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def load(checkpoint: str, users: int, requests: int, queue_size: int, time_limit: float, warmup: int = 10) -> dict:
    from gradio_client import Client
    from gradio_client.utils import QueueError

    port = _free_port()
    default_option = "--" + SHIPPED_MODELS[DEFAULT_MODEL].option.replace("_", "-")  # the directory of the app's default model
    server = subprocess.Popen([sys.executable, "app.py", default_option, checkpoint, "--port", str(port),
                               "--queue-size", str(queue_size), "--cache-examples", "off"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        client = None
        while client is None:
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the app did not start: {server.stderr.read()[-1000:] if server.poll() is not None else 'timeout'}")
            try:
                client = Client(url, verbose=False)
            except Exception:  # not listening yet
                time.sleep(0.5)
        for i in range(warmup):  # warm-up: first-call costs (allocations, caches, ffmpeg) before memory is measured
            client.predict(f"WARM{i % 10}", api_name="/generate")
        rss_sequential = _rss_mb(server.pid)
        rss_start = [None]  # memory once a quarter of the load has been served: warm under concurrency too

        lock = threading.Lock()
        counts = {"served": 0, "busy": 0, "failed": 0}
        latencies, errors = [], []
        issued, in_flight = [0], [0]  # requests sent, and sent but not answered
        stop_at = time.time() + time_limit

        def user(k: int) -> None:
            c = Client(url, verbose=False)
            while True:
                with lock:
                    if counts["served"] + in_flight[0] >= requests or time.time() > stop_at:
                        return
                    issued[0] += 1
                    in_flight[0] += 1
                    n = issued[0]
                prompt = "ABCDEFGHJK"[n % 10] + str(n % 97)
                t0 = time.time()
                try:
                    progress, gif, mp4 = c.predict(prompt, api_name="/generate")
                    ok = gif and Path(gif).is_file() and Path(gif).read_bytes()[:3] == b"GIF" and progress["prompt"] == prompt
                    with lock:
                        counts["served" if ok else "failed"] += 1
                        latencies.append(time.time() - t0)
                        if rss_start[0] is None and counts["served"] >= requests // 4:
                            rss_start[0] = _rss_mb(server.pid)
                        if not ok:
                            errors.append(f"{prompt}: bad result {progress}")
                except QueueError:
                    with lock:
                        counts["busy"] += 1
                    time.sleep(0.5)  # a polite client backs off
                except Exception as e:  # noqa: BLE001 - any other outcome is a failure to report
                    with lock:
                        counts["failed"] += 1
                        errors.append(f"{prompt}: {type(e).__name__}: {e}"[:300])
                finally:
                    with lock:
                        in_flight[0] -= 1

        t0 = time.time()
        threads = [threading.Thread(target=user, args=(k,)) for k in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=time_limit + 120)
        wall = time.time() - t0
        rss_end = _rss_mb(server.pid)
        rss_start = rss_start[0] or rss_sequential

        # Stop: a long generation is cancelled after its first preview; the next request must not wait for it
        t1 = time.time()
        client.predict("STOP", api_name="/generate")
        normal = time.time() - t1
        long_job = client.submit("STOP", 1000, 0.0, 3.0, 0, "ddim", api_name="/generate")
        while not long_job.outputs() and not long_job.done():
            time.sleep(0.01)
        long_job.cancel()
        t1 = time.time()
        client.predict("NEXT", api_name="/generate")
        after_stop = time.time() - t1

        lat = sorted(latencies)
        return {"users": users, "requests": issued[0], **counts, "errors": errors[:5],
                "p50_s": round(statistics.median(lat), 3) if lat else None,
                "p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None,
                "throughput_per_s": round(counts["served"] / wall, 3), "wall_s": round(wall, 1),
                "rss_after_sequential_warmup_mb": round(rss_sequential, 1), "rss_after_warmup_mb": round(rss_start, 1), "rss_end_mb": round(rss_end, 1),
                "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 2),
                "one_generation_alone_s": round(normal, 3), "next_generation_after_stop_s": round(after_stop, 3),
                "server_alive": server.poll() is None}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few minutes: fewer cases, kills and requests")
    p.add_argument("--checkpoint", default=str(SHIPPED_MODELS[DEFAULT_MODEL].directory), help="directory the load test serves as the default model")
    p.add_argument("--only", nargs="+", choices=("bad_input", "crashes", "load"), default=("bad_input", "crashes", "load"))
    p.add_argument("--json", default=None, help="also write the figures here")
    return p


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    plan = dict(scale=1, kills=5, export_kills=4, steps=30, users=20, requests=30, queue=16, time_limit=300) if a.quick else \
        dict(scale=10, kills=24, export_kills=12, steps=120, users=20, requests=200, queue=16, time_limit=1200)
    out = {}
    if "bad_input" in a.only:
        out["bad_input"] = r = bad_input(plan["scale"])
        print(f"bad input: {r['total_cases']} cases over {len(r['cases'])} properties, failed tests {len(r['failed_tests'])} ({r['pytest']}, {r['seconds']} s)")
        for name, n in sorted(r["cases"].items()):
            print(f"    {n:6d}  {name}")
    if "crashes" in a.only:
        out["crashes"] = r = crashes(plan["kills"], plan["export_kills"], plan["steps"])
        print(f"crashes: training killed {r['train_kills']} times ({r['train_kills_inside_a_write']} inside a checkpoint write), "
              f"unreadable files {len(r['unreadable_after_a_kill'])}, tensors differing from the uninterrupted run {len(r['mismatches_with_uninterrupted_run'])}; "
              f"export killed {r['export_kills']} of {r['export_runs']} ({r['export_kills_inside_a_write']} inside its write), "
              f"broken releases {len(r['export_violations'])} ({r['seconds']} s)")
    if "load" in a.only:
        out["load"] = r = load(a.checkpoint, plan["users"], plan["requests"], plan["queue"], plan["time_limit"])
        print(f"load: {r['users']} users sent {r['requests']} requests: served {r['served']}, told busy {r['busy']}, failed {r['failed']}; "
              f"latency p50 {r['p50_s']} s, p95 {r['p95_s']} s; {r['throughput_per_s']} videos/s; "
              f"server memory {r['rss_after_warmup_mb']} -> {r['rss_end_mb']} MB ({r['rss_growth_pct']:+.2f}%); "
              f"after Stop the next video took {r['next_generation_after_stop_s']} s (alone: {r['one_generation_alone_s']} s)")
        for e in r["errors"]:
            print("    " + e)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    bad = (out.get("bad_input", {}).get("exit_code", 0) != 0
           or any(out.get("crashes", {}).get(k) for k in ("unreadable_after_a_kill", "mismatches_with_uninterrupted_run", "export_violations"))
           or out.get("load", {}).get("failed", 0) or out.get("load", {}).get("server_alive") is False)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
