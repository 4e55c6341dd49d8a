"""The web app in a real browser: Debian's headless Chromium driven by Playwright (tiny checkpoint).

Screenshots go to $VIDGEN_SCREENSHOTS when set (the test's tmp dir otherwise), to look at by eye.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from app_server import running_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright python package")


@pytest.fixture(scope="module")
def url(tiny_layout_checkpoint, tiny_checkpoint):
    with running_app(tiny_layout_checkpoint, tiny_checkpoint, preview_interval=0.1) as u:
        yield u


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def open_page(browser, url, height: int):
    """A page at url, loaded; yields it, then fails the test on any JavaScript error it saw."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#generate-btn", timeout=30_000)
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(browser, url):
    yield from open_page(browser, url, 1000)


@pytest.fixture
def shots(tmp_path):
    d = Path(os.environ.get("VIDGEN_SCREENSHOTS", tmp_path))
    d.mkdir(parents=True, exist_ok=True)
    return d


def set_slider(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_generate_streams_changing_previews_then_the_video(page, shots):
    assert "vidgen" in page.title()
    page.screenshot(path=shots / "app_loaded.png", full_page=True)
    set_slider(page, "steps", 400)  # the tiny model takes a few ms a step: long enough to see previews change
    page.fill("#prompt textarea, #prompt input", "hi")
    page.click("#generate-btn")
    seen, t0 = [], time.monotonic()
    while time.monotonic() - t0 < 60:
        status = page.inner_text("#status")
        html = page.inner_html("#preview")
        if "base64," in html and (not seen or seen[-1] != html):
            seen.append(html)
            if len(seen) == 3:
                page.screenshot(path=shots / "app_generating.png", full_page=True)
        if status.startswith("Done"):
            break
        time.sleep(0.03)
    assert "step 400 / 400" in page.inner_text("#status")
    assert len(seen) >= 3, "the preview should change several times while sampling"
    assert page.locator("#preview .vg-anim").count() == 3  # x_t, predicted x0 and the glyph layout side by side
    assert "glyph layout: given to this model" in page.inner_text("#preview")
    video = page.wait_for_selector("#result-mp4 video", timeout=30_000)
    assert video.get_attribute("src").split("?")[0].endswith(".mp4")
    gif = page.wait_for_selector("#result-gif img", timeout=30_000)
    assert ".gif" in gif.get_attribute("src")
    page.wait_for_function("document.querySelector('#result-mp4 video').readyState >= 2", timeout=30_000)  # it decodes
    page.screenshot(path=shots / "app_done.png", full_page=True)

    # the step viewer scrubs the stored run
    page.get_by_role("tab", name="Step viewer").click()
    page.wait_for_selector("#viewer .vg-anim")
    assert "x_0: the result" in page.inner_text("#viewer")
    set_slider(page, "scrub", 1)
    page.wait_for_function("document.querySelector('#viewer').innerText.includes('after step 1 ')")
    page.wait_for_selector("#grid img")
    page.screenshot(path=shots / "app_viewer.png", full_page=True)


def test_the_blog_model_is_one_click_away_and_compare_puts_both_side_by_side(page, shots):
    page.get_by_label("The blog's model (prompt only)").first.check()
    set_slider(page, "steps", 3)
    page.fill("#prompt textarea, #prompt input", "ab")
    page.click("#generate-btn")
    page.wait_for_function("document.querySelector('#status').innerText.startsWith('Done')", timeout=60_000)
    assert "NOT given, this model must learn it" in page.inner_text("#preview")
    page.get_by_role("tab", name="Compare").click()
    page.locator("#component-0").page.get_by_label("Preset").click()
    page.get_by_role("option", name="the two shipped models").click()
    page.wait_for_function("document.querySelector('#compare-model-b input[value=blog]').checked", timeout=15_000)
    page.click("#compare-btn")
    page.wait_for_function("document.querySelector('#compare-view').innerText.includes('glyph layout of the prompt')", timeout=120_000)
    text = page.inner_text("#compare-view")
    assert "A: release" in text and "B: blog" in text
    page.screenshot(path=shots / "app_compare_models.png", full_page=True)


def test_bad_prompt_shows_the_error_and_runs_nothing(page):
    page.fill("#prompt textarea, #prompt input", "hi there!")
    page.click("#generate-btn")
    toast = page.wait_for_selector(".toast-body", timeout=15_000)
    assert "outside the allowed symbols" in toast.inner_text()
    assert "Press Generate" in page.inner_text("#status")


def test_live_preview_generates_as_the_prompt_is_typed(page, shots):
    """With "Live preview" on, typing alone generates (no click): the status says so and the panels appear;
    a half-typed prompt that cannot be generated says why in the status line, and nothing pops up."""
    set_slider(page, "steps", 3)
    page.fill("#prompt textarea, #prompt input", "")
    page.locator("#live input").check()
    page.locator("#prompt textarea, #prompt input").press_sequentially("hi7", delay=40)
    page.wait_for_function("document.querySelector('#status').innerText.startsWith('Live preview: step 3 / 3')",
                           timeout=60_000)
    assert "base64," in page.inner_html("#preview")
    page.screenshot(path=shots / "app_live.png", full_page=True)
    page.locator("#prompt textarea, #prompt input").press_sequentially("!")
    page.wait_for_function("document.querySelector('#status').innerText.startsWith('Live preview waits')", timeout=30_000)
    assert "outside the allowed symbols" in page.inner_text("#status")
    assert page.locator(".toast-body").count() == 0


def test_embedding_explorer_renders_plotly(page, shots):
    page.get_by_role("tab", name="Embedding explorer").click()
    page.wait_for_selector("#cube-plot .js-plotly-plot", timeout=30_000)
    page.get_by_role("tab", name="All positions (Fig. 12)").click()
    page.wait_for_selector("#matrix-plot .js-plotly-plot", timeout=30_000)
    page.get_by_role("tab", name="Timestep embedding (Fig. 10)").click()
    page.wait_for_selector("#timestep-plot .js-plotly-plot", timeout=30_000)
    page.get_by_role("tab", name="Position cube (Fig. 11)").click()
    page.screenshot(path=shots / "app_explorer.png", full_page=True)
    # the Gradio sliders redraw the cube around the chosen position
    set_slider(page, "cube-w", 0)
    page.wait_for_function("document.querySelector('#cube-plot').innerText.includes('w=0)')", timeout=30_000)


@pytest.fixture(scope="module")
def motion_url(tiny_motion_checkpoint, tiny_checkpoint):
    with running_app(tiny_motion_checkpoint, tiny_checkpoint, preview_interval=0.1) as u:
        yield u


@pytest.fixture
def motion_page(browser, motion_url):
    yield from open_page(browser, motion_url, 1300)


def test_variations_show_one_motion_per_seed(motion_page, shots):
    page = motion_page
    set_slider(page, "steps", 3)
    page.fill("#prompt textarea, #prompt input", "hi")
    page.click("#variations-btn")
    page.wait_for_function("document.querySelectorAll('#variations .vg-anim').length == 8", timeout=120_000)
    captions = page.locator("#variations figcaption").all_inner_texts()
    assert [c.split(":")[0] for c in captions] == [f"seed {s}" for s in range(8)]
    assert len({c.split(":", 1)[1] for c in captions}) >= 6  # the seeds chose different motions
    page.screenshot(path=shots / "app_variations.png", full_page=True)


def test_a_direction_or_a_clicked_path_is_followed(motion_page, shots):
    page = motion_page
    set_slider(page, "steps", 3)
    page.fill("#prompt textarea, #prompt input", "hi")
    page.get_by_label("Direction and speed").check()
    set_slider(page, "motion-direction", 90)
    page.click("#generate-btn")
    page.wait_for_function("document.querySelector('#status').innerText.startsWith('Done')", timeout=60_000)
    assert "given to this model, where each glyph is in every frame" in page.inner_text("#preview")
    canvas = page.locator("#motion-canvas img")
    box = canvas.bounding_box()
    for fx, fy in ((0.3, 0.5), (0.7, 0.5)):
        canvas.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        time.sleep(0.3)
    page.wait_for_function("document.querySelector('#motion-points textarea, #motion-points input').value.includes(';')",
                           timeout=15_000)
    assert page.locator("#motion-kind input[value='Path (click points)']").is_checked()
    page.click("#generate-btn")
    page.wait_for_function("document.querySelector('#status').innerText.startsWith('Done')", timeout=60_000)
    page.screenshot(path=shots / "app_path.png", full_page=True)


def test_a_motion_that_cannot_show_the_prompt_is_refused_with_the_reason(motion_page, shots):
    page = motion_page
    page.fill("#prompt textarea, #prompt input", "abcdefgh")
    page.get_by_label("Direction and speed").check()
    set_slider(page, "motion-direction", 90)
    set_slider(page, "motion-speed", 1)
    page.click("#generate-btn")
    toast = page.wait_for_selector(".toast-body:has-text('wholly on screen')", timeout=30_000)
    assert "'A' (glyph 1" in toast.inner_text()
    assert "Press Generate" in page.inner_text("#status")  # nothing ran
    page.screenshot(path=shots / "app_bad_motion.png", full_page=True)
