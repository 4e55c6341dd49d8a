"""Latency of the web app: time to the first preview after the click, and what streaming previews
cost a 50-step generation. Targets (issue 5, 2-core CPU): first preview within 0.5 s of the click,
a generation with previews within 1.5x the same generation without them.

    python benchmarks/app_latency.py [--checkpoint DIR] [--steps 50] [--sampler dpm++2m] [--compile] [--repeats 3] [--no-browser]

Without --checkpoint the `small` preset (the release architecture) is built with random weights:
speed does not depend on the weights. Rows:

  sampler only          Pipeline.generate in this process: no app, no previews, no files
  app loop, no network  the Generate tab's server work (sampler, throttled previews drawn) without Gradio
  api /generate         gradio_client: one update per step, GIF and MP4 written at the end
  browser, previews=... headless Chromium clicks Generate on the page and waits for "Done" (the finished
                        video, a GIF; the MP4 follows in a second update and is timed too); previews
                        every step / throttled to one per 0.1 s (the default) / off (first and last only).
                        The files are made in all three, so their ratio is the cost of previews. Each
                        browser row also times Gradio's round trip with no work (a prompt the app refuses
                        at once, typed with live preview on), the floor under any click.

The browser runs on the same CPU as the server here; on a Space it runs on the visitor's machine,
so these browser rows are pessimistic. Run on an idle machine: all figures are wall-clock.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vidgen.app.model_choices import load_models
from vidgen.app.panels import status_html, step_panels_html
from vidgen.app.requests import check_request
from vidgen.app.server import build_demo, compile_in_background, serve
from vidgen.app.settings import Settings
from vidgen.app.streaming import PreviewThrottle, stream_generation
from vidgen.checkpoint import (
    CONFIG_NAME,
    EMA_NAME,
    atomic_write_json,
    config_dict,
    save_tensors,
)
from vidgen.compiled import describe_compile
from vidgen.diffusion.sampler import DEFAULT_SAMPLER, SAMPLERS
from vidgen.models import build_model
from vidgen.pipeline import load_pipeline
from vidgen.presets import get_preset
from vidgen.shipped import SHIPPED_MODELS, TEACHER_MODEL

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]

# Clicks Generate and resolves with the ms from the click to the first new preview, to "Done" (the finished
# video, shown as a GIF) and to the MP4 that follows it.
CLICK_AND_TIME_JS = """
() => new Promise((resolve) => {
  const preview = document.querySelector('#preview'), status = document.querySelector('#status');
  const mp4 = () => { const v = document.querySelector('#result-mp4 video'); return v ? v.getAttribute('src') : null; };
  const before = preview.innerHTML, mp4Before = mp4();
  let first = null, done = null;
  const t0 = performance.now();
  const check = () => {
    if (first === null && preview.innerHTML !== before && preview.innerHTML.includes('base64,')) first = performance.now() - t0;
    if (done === null && status.innerText.startsWith('Done') && first !== null) done = performance.now() - t0;
    const src = mp4();
    if (done !== null && src && src !== mp4Before) {
      obs.disconnect();
      resolve({first_ms: first, total_ms: done, mp4_ms: performance.now() - t0});
    }
  };
  const obs = new MutationObserver(check);
  setTimeout(() => { obs.disconnect(); resolve({error: 'timed out: ' + status.innerText}); }, 300000);
  obs.observe(document.body, {childList: true, subtree: true, characterData: true, attributes: true});
  document.querySelector('#generate-btn').click();
})
"""

# Gradio's own round trip through the same queue with no work to do: with live preview on, a key that makes
# the prompt one the app refuses at once (a symbol it does not know). Armed before the key is pressed; resolves
# with the ms until the status says it waits.
ROUND_TRIP_ARM_JS = """
() => { window.__vgRoundTrip = new Promise((resolve) => {
  const status = document.querySelector('#status');
  const t0 = performance.now();
  const obs = new MutationObserver(() => {
    if (status.innerText.startsWith('Live preview waits')) { obs.disconnect(); resolve({ms: performance.now() - t0}); }
  });
  setTimeout(() => { obs.disconnect(); resolve({error: 'timed out: ' + status.innerText}); }, 30000);
  obs.observe(status, {childList: true, subtree: true, characterData: true});
}); }
"""


def random_small_checkpoint(out: Path) -> Path:
    """The `small` preset with random weights, saved as a release directory."""
    p = get_preset("small")
    model = build_model(p.model)
    atomic_write_json(out / CONFIG_NAME, config_dict(p.model, p.diffusion, None, note="random weights, for timing"))
    save_tensors(out / EMA_NAME, model.state_dict())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(checkpoint, preview_interval: float, compile: bool = False):
    """The app serving `checkpoint` alone (as the release: the page's default when nothing else is served)."""
    others = {m.option: "/nonexistent/vidgen-benchmark" for m in SHIPPED_MODELS.values()}
    settings = Settings(**(others | {SHIPPED_MODELS[TEACHER_MODEL].option: str(checkpoint)}), port=free_port(),
                        preview_interval=preview_interval, cache_examples="off")
    pipe, _ = load_models(settings)  # only the others are missing
    if TEACHER_MODEL not in pipe:
        raise SystemExit(f"could not load {checkpoint}")
    demo = build_demo(pipe, settings, None)
    if compile:
        compile_in_background(pipe[TEACHER_MODEL], TEACHER_MODEL).join()  # as main() does, waited for
    _, url, _ = serve(demo, settings, prevent_thread_lock=True, quiet=True)
    return demo, url


def log(msg: str) -> None:
    print(msg, flush=True)


def median(xs):
    return statistics.median(xs)


def bench_in_process(pipe, request, repeats: int) -> dict:
    rows = {}
    pipe.generate(request.prompt, **request.sampling_kwargs())  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pipe.generate(request.prompt, **request.sampling_kwargs())
        times.append(time.perf_counter() - t0)
    rows["sampler only"] = {"total_s": median(times)}
    log(f"  sampler only: {times}")

    times, firsts, shown = [], [], []
    for _ in range(repeats):
        throttle, n, first = PreviewThrottle(0.1), 0, None
        t0 = time.perf_counter()
        for u in stream_generation(pipe, request, throttle):
            if u.show:
                step_panels_html(u.x_t, u.pred_x0, u.index, u.num_steps, u.t)
                status_html(u.index, u.num_steps, u.t, u.seconds)
                n += 1
                first = time.perf_counter() - t0 if first is None else first
        times.append(time.perf_counter() - t0)
        firsts.append(first)
        shown.append(n)
    log(f"  app loop: {times}, first previews {firsts}")
    rows["app loop, no network"] = {"first_preview_s": median(firsts), "total_s": median(times), "previews": median(shown)}
    return rows


def bench_api(url: str, request, repeats: int) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)
    args = (request.prompt, request.steps, request.eta, request.guidance_scale, request.seed, request.sampler)
    client.predict(*args, api_name="/generate")  # warm-up
    firsts, times, updates = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        job = client.submit(*args, api_name="/generate")
        first, n = None, 0
        for _update in job:
            first = time.perf_counter() - t0 if first is None else first
            n += 1
        times.append(time.perf_counter() - t0)
        firsts.append(first)
        updates.append(n)
        log(f"  api run: first update {first:.3f} s, total {times[-1]:.3f} s, {n} updates")
    return {"api /generate": {"first_update_s": median(firsts), "total_s": median(times), "updates": median(updates)}}


def bench_browser(url: str, steps: int, sampler: str, repeats: int, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#generate-btn")
        page.locator(f"#sampler input[value='{sampler}']").check()
        box = page.locator("#steps input[type=number]")
        box.fill(str(steps))
        box.press("Enter")
        results = []
        for i in range(repeats + 1):  # the first is a warm-up
            # "Done" shows with the last update, a moment before the event completes; a click in
            # between would be dropped (a button's event runs once at a time), so let it settle.
            page.wait_for_timeout(1500)
            r = page.evaluate(CLICK_AND_TIME_JS)
            if "error" in r:
                raise RuntimeError(f"browser run {i}: {r['error']}")
            log(f"  browser run {i}: first preview {r['first_ms']:.0f} ms, finished (GIF) {r['total_ms']:.0f} ms, "
                f"MP4 {r['mp4_ms']:.0f} ms")
            results.append(r)
        results = results[1:]
        round_trips = round_trip(page, repeats)
        browser.close()
    return {"first_preview_s": median(r["first_ms"] for r in results) / 1000,
            "total_s": median(r["total_ms"] for r in results) / 1000,
            "mp4_s": median(r["mp4_ms"] for r in results) / 1000,
            "round_trip_s": median(round_trips) / 1000}


def round_trip(page, repeats: int) -> list[float]:
    """ms of Gradio's round trip with no work (ROUND_TRIP_ARM_JS), the first of repeats + 1 a warm-up."""
    box = page.locator("#prompt textarea, #prompt input")
    page.locator("#live input").check()
    out = []
    for i in range(repeats + 1):
        box.fill("")
        box.press_sequentially("HI")  # a prompt it generates (live), waited for
        page.wait_for_function("document.querySelector('#status').innerText.startsWith('Live preview: step')", timeout=30_000)
        page.wait_for_timeout(300)
        page.evaluate(ROUND_TRIP_ARM_JS)
        box.press("#")
        r = page.evaluate("() => window.__vgRoundTrip")
        if "error" in r:
            raise RuntimeError(f"round trip {i}: {r['error']}")
        out.append(r["ms"])
    log(f"  Gradio round trip with no work: {[round(x) for x in out]} ms")
    page.locator("#live input").uncheck()
    return out[1:]


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None, help="default: the small preset with random weights")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--sampler", choices=SAMPLERS, default=DEFAULT_SAMPLER)
    ap.add_argument("--compile", action="store_true",
                    help="compile the network first (Pipeline.compile; the app's served model is compiled the same way)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results here")
    return ap


def main(argv=None):
    ap = build_parser()
    args = ap.parse_args(argv)

    tmp = None
    checkpoint = args.checkpoint
    if checkpoint is None:
        tmp = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
        checkpoint = random_small_checkpoint(tmp)
    pipe = load_pipeline(checkpoint)
    request = check_request("HELLO", steps=args.steps, guidance_scale=3.0, sampler=args.sampler)
    if args.compile:
        log(f"network: {describe_compile(pipe.compile())}")
    log(f"checkpoint {checkpoint}; {args.steps} steps; torch threads {torch.get_num_threads()}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; {os.cpu_count()} CPUs")

    rows = bench_in_process(pipe, request, args.repeats)
    demos = []
    try:
        demo, url = launch(checkpoint, 0.1, args.compile)
        demos.append(demo)
        rows.update(bench_api(url, request, args.repeats))
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not args.no_browser and chromium:
            for name, interval in (("every step", 0.0), ("throttled 0.1 s", 0.1), ("off", 1e9)):
                demo, url = launch(checkpoint, interval, args.compile)
                demos.append(demo)
                log(f"browser, previews {name}:")
                rows[f"browser, previews {name}"] = bench_browser(url, args.steps, args.sampler, args.repeats, chromium)
        elif not args.no_browser:
            print("no chromium found: browser rows skipped (apt-get install -y chromium)")
    finally:
        for d in demos:
            d.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    base = rows["sampler only"]["total_s"]
    print(f"\n{'':28s} {'first preview':>14s} {'total':>9s} {'x sampler':>10s}")
    for name, r in rows.items():
        first = r.get("first_preview_s", r.get("first_update_s"))
        first = f"{first:.3f} s" if first is not None else "-"
        print(f"{name:28s} {first:>14s} {r['total_s']:>7.3f} s {r['total_s'] / base:>9.2f}x")
    for name, r in rows.items():
        if "round_trip_s" in r:
            net = (r["total_s"] - r["round_trip_s"]) / base
            print(f"{name}: MP4 {r['mp4_s']:.3f} s after the click; Gradio's round trip with no work "
                  f"{r['round_trip_s']:.3f} s; finished less that round trip {net:.2f}x the sampler")
    off = rows.get("browser, previews off")
    on = rows.get("browser, previews throttled 0.1 s")
    if off and on:
        print(f"\nbrowser: previews (throttled) / no previews = {on['total_s'] / off['total_s']:.2f}x (target <= 1.5x); "
              f"first preview {on['first_preview_s']:.3f} s after the click (target <= 0.5 s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
