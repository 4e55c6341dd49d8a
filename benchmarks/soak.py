"""The reliability soak: bad input, crashes and load, each as figures (issue: keeps working under
load, faults and bad input). docs/reliability.md holds a run's output (docs/reports/soak.json).

    python -m benchmarks.soak            # all three: bad input and crashes about 15-20 minutes on the 2-core CPU
    python -m benchmarks.soak --quick    # a few minutes: fewer cases and kills, 20 users for 30 s
    python -m benchmarks.soak --only load --users 100 --duration 60 --json docs/reports/soak.json

Sections (each prints its figures; the exit code is 1 if any failure, mismatch, crash or unexpected answer):
  bad input  tests/test_bad_input.py under Hypothesis with VIDGEN_HYPOTHESIS_SCALE times the default
             cases (prompts, numbers, motions on the CLI and the library, corrupt files), and the app's
             generate API through gradio_client (tests/test_app.py's property, motions among its inputs):
             cases tried per entry point and failures;
  crashes    SIGKILL a tiny training run at random moments (half of them inside checkpoint writes),
             resume each time, compare with an uninterrupted run bit for bit; the same for export;
  load       app.py in its own process serving the default model (vidgen.shipped.DEFAULT_MODEL, or
             --checkpoint); --users gradio_client users (100) send, for --duration seconds, a mix of good
             requests (motions as a direction and speed, a size, drawn paths, random) and bad ones
             (steps 0, eta 1.5, guidance outside the model's range, malformed motions, a bad prompt, an
             unknown sampler or model): served / refused with a message / told busy / unexpected by
             kind, latency percentiles, the server's memory (its peak too), whether it stayed up, and
             how fast Stop frees the worker.
Only loopback traffic; every loop is bounded in count (users) and in time (duration, a timeout a request).
The machine's CPU and load average are recorded: figures taken while other jobs run are not idle ones.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
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


# what the load's users send, in turn (each user starting at its own place): requests that must be served, and
# requests the app must refuse with a message (AppError), motions among both; keywords are /generate's parameters
GOOD_REQUESTS = (
    {},  # the default model at its own settings, a motion drawn by the seed
    {"motion": "line:0,4"},  # a direction and a speed
    {"motion": "line:90,2,18"},  # downwards, at font size 18
    {"motion": "path:4,16;28,16"},  # a drawn path
    {"motion": "path:6,6;26,26;6,26@18"},
    {"motion": "random", "guidance_scale": 5.0},
)
BAD_REQUESTS = (
    {"steps": 0}, {"eta": 1.5}, {"guidance_scale": -2.0},
    {"guidance_scale": 9.0},  # outside the 2-step student's guidance range [1, 7]
    {"motion": "line:0"}, {"motion": "line:0,99"}, {"motion": "path:1,2"}, {"motion": "line:a,b"}, {"motion": "spiral"},
    {"prompt": "a_b"}, {"sampler": "euler"}, {"model": "gpt"},
)
MIX = tuple(("good", r) for r in GOOD_REQUESTS) + tuple(("bad", r) for r in BAD_REQUESTS)
CRASH = "The upstream Gradio app has raised an exception"  # what a client gets for an unhandled exception


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The process's resident memory (VmRSS), or its peak so far (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    v = sorted(values)
    at = lambda q: round(v[min(len(v) - 1, int(q * len(v)))], 3)  # noqa: E731
    return {"n": len(v), "p50_s": at(0.5), "p90_s": at(0.9), "p99_s": at(0.99), "max_s": round(v[-1], 3)}


def _start_app(checkpoint: str, queue_size: int, precision: str, log):
    """app.py serving `checkpoint` as the default model; its output to the file `log` (a pipe nobody reads
    would block it once full). No background compile: it would swap networks in the middle of the load."""
    port = _free_port()
    default_option = "--" + SHIPPED_MODELS[DEFAULT_MODEL].option.replace("_", "-")  # the directory of the app's default model
    server = subprocess.Popen([sys.executable, "app.py", default_option, checkpoint, "--port", str(port),
                               "--queue-size", str(queue_size), "--cache-examples", "off", "--precision", precision,
                               "--no-compile"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return server, f"http://127.0.0.1:{port}/"


def load(checkpoint: str, users: int, duration: float, queue_size: int, precision: str = "fp32", warmup: int = 3,
         timeout: float = 120) -> dict:
    """`users` gradio_client users on loopback, each sending MIX in turn for `duration` seconds (a request
    still running then may finish within `timeout`): what was served, refused, told busy or went wrong, the
    latencies, the server's memory (sampled every 0.25 s, and the kernel's peak) and whether it stayed up."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    log = tempfile.TemporaryFile(mode="w+")
    server, url = _start_app(checkpoint, queue_size, precision, log)
    t_start = time.time()
    try:
        deadline, client = time.time() + 600, None
        while client is None:
            if server.poll() is not None or time.time() > deadline:
                log.seek(0)
                raise RuntimeError(f"the app did not start ({'exited' if server.poll() is not None else 'timeout'}): {log.read()[-1000:]}")
            try:
                client = Client(url, verbose=False)
            except Exception:  # not listening yet
                time.sleep(0.5)
        startup = time.time() - t_start
        for i in range(warmup):  # first-call costs (allocations, caches, ffmpeg) before memory is measured
            client.predict(prompt=f"WARM{i % 10}", api_name="/generate")
        rss_warm = _rss_mb(server.pid)

        lock = threading.Lock()
        outcomes: dict[str, int] = {}  # served, refused, busy, and each unexpected kind
        latency = {"served": [], "refused": []}
        unexpected: list[str] = []
        rss_samples = [rss_warm]
        stop_at = time.time() + duration
        done = threading.Event()

        def monitor() -> None:
            while not done.wait(0.25):
                if server.poll() is None:
                    rss_samples.append(_rss_mb(server.pid))

        def record(kind: str, seconds: float | None = None, what: str | None = None) -> None:
            with lock:
                outcomes[kind] = outcomes.get(kind, 0) + 1
                if seconds is not None and kind in latency:
                    latency[kind].append(seconds)
                if what is not None and len(unexpected) < 20:
                    unexpected.append(what[:300])

        def user(k: int) -> None:
            try:
                c = Client(url, verbose=False)
            except Exception as e:  # noqa: BLE001 - a user that cannot even connect is a failure to report
                return record("unexpected: could not connect", what=f"user {k}: {type(e).__name__}: {e}")
            i = k
            while time.time() < stop_at:
                expect, fields = MIX[i % len(MIX)]
                i += 1
                request = {"prompt": "ABCDEFGHJK"[i % 10] + "XYZ0123456"[k % 10], **fields}
                t0 = time.time()
                try:
                    progress, gif, _ = c.submit(**request, api_name="/generate").result(timeout=timeout)
                except QueueError:
                    record("busy")
                    time.sleep(0.5)  # a polite client backs off
                    continue
                except AppError as e:
                    message = str(e).strip()
                    if expect == "bad" and message and CRASH not in message:
                        record("refused", time.time() - t0)
                    else:
                        record("unexpected: refused a good request" if expect == "good" else "unexpected: crashed",
                               what=f"{request}: {message}")
                    continue
                except Exception as e:  # noqa: BLE001 - any other outcome is a failure to report
                    record(f"unexpected: {type(e).__name__}", what=f"{request}: {type(e).__name__}: {e}")
                    continue
                ok = bool(gif) and Path(gif).is_file() and Path(gif).read_bytes()[:3] == b"GIF" and progress["prompt"] == request["prompt"]
                if expect == "good" and ok:
                    record("served", time.time() - t0)
                else:
                    record("unexpected: served a bad request" if expect == "bad" else "unexpected: bad result",
                           what=f"{request}: {progress}")

        sampler = threading.Thread(target=monitor, daemon=True)
        sampler.start()
        t0 = time.time()
        threads = [threading.Thread(target=user, args=(k,), daemon=True) for k in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, stop_at - time.time()) + timeout + 10)
        wall = time.time() - t0
        done.set()
        alive = server.poll() is None
        rss_end, rss_peak = (_rss_mb(server.pid), _rss_mb(server.pid, "VmHWM")) if alive else (None, None)

        # after the load: one generation alone, and Stop (a 1000-step generation cancelled after its first
        # preview; the next request must not wait for it)
        t1 = time.time()
        client.predict(prompt="AFTER", api_name="/generate")
        alone = time.time() - t1
        long_job = client.submit(prompt="STOP", steps=1000, sampler="ddim", api_name="/generate")
        while not long_job.outputs() and not long_job.done():
            time.sleep(0.01)
        long_job.cancel()
        t1 = time.time()
        client.predict(prompt="NEXT", api_name="/generate")
        after_stop = time.time() - t1

        expected = {"served", "refused", "busy"}
        return {"users": users, "duration_s": duration, "queue_size": queue_size, "precision": precision,
                "app_startup_s": round(startup, 1), "wall_s": round(wall, 1),
                "requests": sum(outcomes.values()), "outcomes": dict(sorted(outcomes.items())),
                "unexpected": sum(n for kind, n in outcomes.items() if kind not in expected), "unexpected_examples": unexpected,
                "latency_served": _percentiles(latency["served"]), "latency_refused": _percentiles(latency["refused"]),
                "served_per_s": round(outcomes.get("served", 0) / wall, 3),
                "rss_after_warmup_mb": round(rss_warm, 1), "rss_peak_sampled_mb": round(max(rss_samples), 1),
                "rss_peak_kernel_mb": None if rss_peak is None else round(rss_peak, 1),
                "rss_end_mb": None if rss_end is None else round(rss_end, 1),
                "server_alive": alive and server.poll() is None,
                "one_generation_alone_s": round(alone, 3), "next_generation_after_stop_s": round(after_stop, 3)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def machine() -> dict:
    """The CPU (lscpu's model name), its cores, and the load average when the soak started: other jobs show there."""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                   if line.startswith("Model name"))
    except (OSError, StopIteration):
        cpu = "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average_1_5_15": [round(v, 2) for v in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands against it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few minutes: fewer cases and kills, 20 users for 30 s")
    p.add_argument("--checkpoint", default=str(SHIPPED_MODELS[DEFAULT_MODEL].directory),
                   help=f"directory the load test serves as the default model (default: {DEFAULT_MODEL}'s)")
    p.add_argument("--only", nargs="+", choices=("bad_input", "crashes", "load"), default=("bad_input", "crashes", "load"))
    p.add_argument("--users", type=int, default=None, help="concurrent loopback users of the load (default 100; --quick 20)")
    p.add_argument("--duration", type=float, default=None, help="seconds the users send requests (default 120; --quick 30)")
    p.add_argument("--queue-size", type=int, default=16, help="the app's queue (default 16, the app's own)")
    p.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="fp32",
                   help="the app's --precision (default fp32: auto times two precisions of every served model at "
                        "start-up, minutes on a busy machine)")
    p.add_argument("--json", default=None, help="also write the figures here")
    return p


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    plan = dict(scale=1, kills=5, export_kills=4, steps=30, users=20, duration=30.0) if a.quick else \
        dict(scale=10, kills=24, export_kills=12, steps=120, users=100, duration=120.0)
    users, duration = a.users or plan["users"], a.duration or plan["duration"]
    if not 1 <= users <= 500 or not 0 < duration <= 3600 or a.queue_size < 1:
        p.error("--users must be in [1, 500], --duration in (0, 3600] seconds and --queue-size >= 1")
    out = {"machine": machine()}
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
        out["load"] = r = load(a.checkpoint, users, duration, a.queue_size, a.precision)
        served, refused = r["latency_served"], r["latency_refused"]
        print(f"load: {r['users']} users for {r['duration_s']:g} s sent {r['requests']} requests: {r['outcomes']}; unexpected {r['unexpected']}; "
              f"served latency p50 {served.get('p50_s')} s, p99 {served.get('p99_s')} s; refusals p50 {refused.get('p50_s')} s; "
              f"server memory {r['rss_after_warmup_mb']} MB after warm-up, peak {r['rss_peak_kernel_mb']} MB; "
              f"server {'up' if r['server_alive'] else 'DOWN'}; after Stop the next video took {r['next_generation_after_stop_s']} s "
              f"(alone: {r['one_generation_alone_s']} s)")
        for e in r["unexpected_examples"]:
            print("    " + e)
    out["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    bad = (out.get("bad_input", {}).get("exit_code", 0) != 0
           or any(out.get("crashes", {}).get(k) for k in ("unreadable_after_a_kill", "mismatches_with_uninterrupted_run", "export_violations"))
           or out.get("load", {}).get("unexpected", 0) or out.get("load", {}).get("server_alive") is False)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
