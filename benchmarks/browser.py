"""The default model in headless Chromium (web/, issue 37): equality with the library, readability, speed.

    python -m benchmarks.browser [--equal 50] [--read 100] [--runs 10] [--rounds 5] [--threads N] [--json docs/reports/browser.json]

Serves web/ as the app does (vidgen.app.browser_route, with the isolation headers) on a local port, drives Debian's
chromium with Playwright, and measures in one run:

- equality: `--equal` prompts (look-alikes, 7-8 symbols, validation) along the library's motion for seed i and
  from the library's initial noise for seed i, made by the page and by the library (fp32): the largest and the mean
  absolute pixel difference (goal: <= 2/255 everywhere);
- readability: `--read` prompts of each of READ_SPLITS (validation, look-alike glyphs, 7-8 symbols), each made by the page with its own motion and noise from seed i and by
  the library with its own for seed i, read by the motion reader and by the nearest render (along each video's
  own motion): the two shares side by side (goal: within 1 point);
- speed: load to `vidgen.ready` from navigation start, cold (a fresh browser context) and cached (a reload); a
  video's time in the page and its first preview (the first step's x_t) after the call, and the library's eager time
  of the same request (batch 1, its chosen precision and fp32), timed in `--rounds` alternating rounds of `--runs`
  each (medians over all, and the ratio round by round), and a 1024^3 fp32 matmul. `--threads N` opens the page at
  ?threads=N (fewer WASM threads than it would take); `--equal 0 --read 0` measures speed alone. The load average before the run says whether the machine was idle.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import threading
import time

import numpy as np
import torch

from benchmarks import print_and_save
from vidgen.app.browser_route import ROUTE, WEB_DIR, IsolatedStaticFiles, missing_browser_files
from vidgen.cli.common import nonnegative_int, positive_int
from vidgen.data.prompts import SplitConfig
from vidgen.data.world import Motion
from vidgen.evaluation.harness import split_prompts
from vidgen.evaluation.nearest_render import nearest_render_reads
from vidgen.evaluation.recognizer import MOTION_DIR, default_reader
from vidgen.pipeline import describe_precision, load_pipeline
from vidgen.precision import cpu_model

SPLIT = SplitConfig()
READ_SPLITS = ("val", "lookalike", "long")  # validation prompts, look-alike glyphs, 7-8 symbols
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def serve_web() -> tuple[str, object]:
    """web/ at http://127.0.0.1:PORT/browser/ in a background thread -> (url, server)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Starlette(routes=[Mount(ROUTE, app=IsolatedStaticFiles(directory=str(WEB_DIR), html=True))])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}{ROUTE}/", server


def open_page(browser, url: str):
    """A fresh context (no cache) at the page; -> (page, context, ms from navigation start to ready)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.vidgen !== undefined", timeout=120_000)
    ready_ms = page.evaluate("vidgen.ready.then(() => performance.now())")
    return page, context, ready_ms


def motion_dict(m: Motion) -> dict:
    return {"xs": [int(v) for v in m.xs], "ys": [int(v) for v in m.ys], "size": int(m.size)}


GENERATE = """async ([p, seed, m, x]) => {
  const t0 = performance.now(); let first = null;
  const out = await vidgen.generate({prompt: p, seed, motion: m, noise: x === null ? null : Float32Array.from(x),
                                     onStep: ({index}) => { if (index === 0) first = performance.now() - t0; }});
  return {frames: Array.from(out.frames), motion: out.motion, ms: out.ms, first};
}"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.browser", description=__doc__.split("\n\n")[0])
    p.add_argument("--equal", type=nonnegative_int, default=50, help="prompts compared with the library from the same noise and motion")
    p.add_argument("--read", type=nonnegative_int, default=100, help="prompts a split read back, the page's own videos and the library's")
    p.add_argument("--runs", type=positive_int, default=10, help="timed videos a round, each side (medians over all rounds)")
    p.add_argument("--rounds", type=positive_int, default=5, help="rounds of page, library (auto) and library (fp32) timings")
    p.add_argument("--threads", type=positive_int, default=None, help="WASM threads the page may use (default: as many as it can)")
    p.add_argument("--json", default=None, help="also write the figures here")
    return p


def readability(page, pipe, reader, prompts: list[str]) -> dict:
    """The page's own videos of `prompts` (its motion and noise from seed i) and the library's (its own for seed i),
    each read by the motion reader and by the nearest render along its own motion: {n, page: {...}, library: {...}}."""
    page_videos, page_motions = [], []
    for i, prompt in enumerate(prompts):
        out = page.evaluate(GENERATE, [prompt, i, None, None])
        page_videos.append(np.array(out["frames"], dtype=np.uint8).reshape(16, 32, 32))
        page_motions.append(Motion(tuple(out["motion"]["xs"]), tuple(out["motion"]["ys"]), out["motion"]["size"], "line"))
    lib_motions = [pipe.sample_motion(p, i) for i, p in enumerate(prompts)]
    lib_videos = np.stack([pipe.generate(p, motion=m, seed=i) for i, (p, m) in enumerate(zip(prompts, lib_motions))])
    share = lambda reads: float(np.mean([r == p for r, p in zip(reads, prompts)]))  # noqa: E731
    return {"n": len(prompts), **{side: {"reader": share(reader.read(v).texts), "nearest_render": share(nearest_render_reads(v, prompts, m))}
                                  for side, v, m in (("page", np.stack(page_videos), page_motions), ("library", lib_videos, lib_motions))}}


def library_times(pipe, motion: Motion, runs: int) -> list[float]:
    """The library's eager time of one video of HELLO along `motion`, `runs` times, in ms."""
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        pipe.generate("HELLO", motion=motion)
        out.append(1000 * (time.perf_counter() - t))
    return out


def main() -> None:
    args = build_parser().parse_args()
    from playwright.sync_api import sync_playwright

    missing = missing_browser_files()
    if missing:
        raise SystemExit(f"web/ lacks {', '.join(missing)}: python -m vidgen export-onnx --out web/model; npm ci --prefix web")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    load = os.getloadavg()[0]
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(20):
        a @ b
    matmul_ms = 1000 * (time.perf_counter() - t) / 20
    lib = load_pipeline(precision="fp32")  # the page runs fp32: equality is against the fp32 library
    auto = load_pipeline()
    report = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "load_average_before": round(load, 2), "idle": load < 0.5,
              "matmul_1024_fp32_ms": round(matmul_ms, 2), "library_precision": describe_precision(auto), "chromium": None}
    url, server = serve_web()
    if args.threads is not None:
        url += f"?threads={args.threads}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        report["chromium"] = browser.version
        page, context, cold_ms = open_page(browser, url)
        info = page.evaluate("vidgen.ready")
        page.reload()
        page.wait_for_function("window.vidgen !== undefined")
        cached_ms = page.evaluate("vidgen.ready.then(() => performance.now())")
        files = json.loads((WEB_DIR / "model" / "vidgen.json").read_text())["onnx"]
        report["page"] = {"model": info["model"], "steps": info["steps"], "wasm_threads": info["threads"],
                          "weights": files.get("weights", "fp32"),
                          "model_bytes": files["cond"]["bytes"] + files["step"]["bytes"],
                          "ready_cold_ms": round(cold_ms, 1), "ready_cached_ms": round(cached_ms, 1)}

        if args.equal > 0:  # 1. equality from the same noise and motion
            third = args.equal // 3
            prompts = split_prompts("lookalike", third, SPLIT) + split_prompts("long", third, SPLIT)
            prompts += split_prompts("val", args.equal - 2 * third, SPLIT)
            worst, means = 0, []
            for i, prompt in enumerate(prompts):
                m = lib.sample_motion(prompt, i)
                x = torch.randn(16, 32, 32, generator=torch.Generator().manual_seed(i)).numpy()
                got = np.array(page.evaluate(GENERATE, [prompt, i, motion_dict(m), x.ravel().tolist()])["frames"])
                diff = np.abs(got - lib.generate(prompt, motion=m, noise=x).astype(int).ravel())
                worst, means = max(worst, int(diff.max())), means + [float(diff.mean())]
            report["equality"] = {"n": len(prompts), "max_abs_pixel": worst, "mean_abs_pixel": round(float(np.mean(means)), 4),
                                  "goal_max_abs_pixel": 2}

        if args.read > 0:  # 2. readability of each side's own videos, on the easy split and the hard ones
            reader = default_reader(str(MOTION_DIR))
            report["readability"] = {name: readability(page, auto, reader, split_prompts(name, args.read, SPLIT, seed=1))
                                     for name in READ_SPLITS}

        # 3. speed: the page against the library, one video of one prompt, in alternating rounds (a machine's state
        # drifts; each side sees the same drift)
        m_auto, m_fp32 = auto.sample_motion("HELLO", 0), lib.sample_motion("HELLO", 0)
        page.evaluate(GENERATE, ["HELLO", 0, None, None])  # warm-ups
        auto.generate("HELLO", motion=m_auto)
        lib.generate("HELLO", motion=m_fp32)
        times: dict[str, list[float]] = {"page": [], "first": [], "library_auto": [], "library_fp32": []}
        for _ in range(args.rounds):
            runs = [page.evaluate(GENERATE, ["HELLO", 0, None, None]) for _ in range(args.runs)]
            times["page"] += [r["ms"] for r in runs]
            times["first"] += [r["first"] for r in runs]
            times["library_auto"] += library_times(auto, m_auto, args.runs)
            times["library_fp32"] += library_times(lib, m_fp32, args.runs)
        report["page"]["video_ms_median"] = round(statistics.median(times["page"]), 1)
        report["page"]["first_preview_ms_median"] = round(statistics.median(times["first"]), 1)
        for name in ("library_auto", "library_fp32"):
            report[name + "_video_ms_median"] = round(statistics.median(times[name]), 1)
        report["timing"] = {"rounds": args.rounds, "runs_a_round": args.runs,
                            "page_over_library_eager_by_round": [
                                round(statistics.median(times["page"][r * args.runs:(r + 1) * args.runs])
                                      / statistics.median(times["library_auto"][r * args.runs:(r + 1) * args.runs]), 2)
                                for r in range(args.rounds)]}
        context.close()
        browser.close()
    server.should_exit = True
    report["page_over_library_eager"] = round(report["page"]["video_ms_median"] / report["library_auto_video_ms_median"], 2)
    print_and_save(report, args.json)


if __name__ == "__main__":
    main()
