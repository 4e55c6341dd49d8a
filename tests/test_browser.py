"""The default model in the visitor's browser (issue 37, docs/browser.md): the export is rebuilt from the shipped
checkpoint and must equal what web/ serves; the page, served by the app at /browser/ and driven in Debian's
headless Chromium, computes the library's glyph layout and line motions exactly, makes the library's video from the
same noise and motion within 2/255, shows both steps, and refuses bad input with the library's words."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch

from vidgen.app.browser_route import WEB_DIR, missing_browser_files
from vidgen.browser.bundle import COND_FILE, CONFIG_FILE, STEP_FILE, check_prompts, export_browser
from vidgen.browser.font_metrics import check_font_tables, font_tables
from vidgen.cli.main import main
from vidgen.data import tokenizer as tok
from vidgen.data.layout2d import layout_batch_2d
from vidgen.data.world import WorldConfig, line_motion, sample_motion
from vidgen.pipeline import load_pipeline

EQUAL_PIXELS = 2  # of 255: the page's video against the library's from the same noise and motion


@pytest.fixture(scope="module")
def pipe():
    return load_pipeline("release-2step", precision="fp32")


@pytest.mark.slow
def test_the_served_export_is_what_the_shipped_checkpoint_builds(pipe, tmp_path):
    config = export_browser(pipe, "release-2step", tmp_path)
    for name in (COND_FILE, STEP_FILE):
        assert (tmp_path / name).read_bytes() == (WEB_DIR / "model" / name).read_bytes(), \
            "web/model is stale: python -m vidgen export-onnx --out web/model"
    assert json.loads((tmp_path / CONFIG_FILE).read_text()) == json.loads((WEB_DIR / "model" / CONFIG_FILE).read_text())
    assert config["onnx"]["parity_max_abs"] <= 1e-4 and config["sampling"]["timesteps"] == [999, 0]


def test_the_font_tables_catch_a_wrong_kerning():
    tables = font_tables(sizes=(20,))
    check_font_tables(tables, check_prompts(50), sizes=(20,))
    a, v = tok.SYMBOLS.index("A"), tok.SYMBOLS.index("V")
    tables["20"]["kerning"][a][v] += 0.25
    with pytest.raises(ValueError, match="do not reproduce"):
        check_font_tables(tables, ["AV"], sizes=(20,))


def test_export_onnx_refuses_a_model_the_page_cannot_run(capsys, tmp_path):
    assert main(["export-onnx", "--model", "blog", "--out", str(tmp_path / "x")]) == 2
    assert "layout-guided motion-world model" in capsys.readouterr().err
    assert main(["export-onnx", "--model", "release", "--out", str(tmp_path / "x")]) == 2  # DPM-Solver++ teacher
    assert not (tmp_path / "x").exists()


def test_the_library_takes_the_initial_noise(pipe):
    m = pipe.sample_motion("AB", 0)
    x = torch.randn(16, 32, 32, generator=torch.Generator().manual_seed(5)).numpy()
    a = pipe.generate("AB", motion=m, noise=x)
    assert np.array_equal(a, pipe.generate("AB", motion=m, noise=torch.from_numpy(x)))
    assert np.array_equal(a, pipe.generate("AB", motion=m, seed=5))  # x is what seed 5 draws: the same start
    assert not np.array_equal(a, pipe.generate("AB", motion=m, noise=-x))
    with pytest.raises(ValueError, match="noise must be the video's shape"):
        pipe.generate("AB", motion=m, noise=x[:8])


# ----------------------------------------------------------------------------- in Chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def in_chromium(test):
    """The marks of a test that drives the page in Debian's headless Chromium."""
    for mark in (pytest.mark.browser, pytest.mark.slow,
                 pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium)")):
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def web_ready():
    """web/ with its npm packages (npm ci, from the lock file) and the exported model."""
    if (WEB_DIR / "node_modules").is_dir() is False:
        if shutil.which("npm") is None:
            pytest.skip("needs npm to install onnxruntime-web (npm ci --prefix web)")
        subprocess.run(["npm", "ci", "--prefix", str(WEB_DIR), "--no-audit", "--no-fund"], check=True, capture_output=True, timeout=600)
    assert missing_browser_files() == []


@pytest.fixture(scope="module")
def page(web_ready, tiny_layout_checkpoint):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright python package")
    from app_server import running_app

    from test_app_browser import CHROMIUM_FLAGS

    with running_app(tiny_layout_checkpoint) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        pg = browser.new_context().new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.goto(url.rstrip("/") + "/browser/")
        pg.wait_for_function("window.vidgen !== undefined", timeout=60_000)
        pg.evaluate("vidgen.ready")
        pg.errors = errors
        pg.app_url = url
        yield pg
        browser.close()
        assert not errors, f"errors on the page: {errors}"


def layout_cases(n: int = 24) -> list[tuple[str, dict]]:
    """Prompts with motions to compare layouts on: look-alikes, 7-8 symbols, every size the world draws and the extremes."""
    rng = np.random.default_rng(7)
    world = WorldConfig(name="motion")
    prompts = ["O0QD", "I1L", "S5B8", "Z2EF", "G6MW", "WMWMWMW", "ABCDEFGH", "AV", "HELLO", "X"]
    prompts += ["".join(rng.choice(list(tok.SYMBOLS), int(rng.integers(1, 9)))) for _ in range(n - len(prompts))]
    cases = []
    for i, p in enumerate(prompts):
        m = sample_motion(p, world, np.random.default_rng(i))
        cases.append((p, {"xs": [int(v) for v in m.xs], "ys": [int(v) for v in m.ys], "size": m.size}))
    cases.append(("AB", {"xs": list(range(0, 16)), "ys": [4] * 16, "size": 8}))
    cases.append(("W", {"xs": [2] * 16, "ys": [1] * 16, "size": 28}))
    return cases


@in_chromium
def test_the_page_computes_the_librarys_layout_and_line_motions(page):
    for prompt, motion in layout_cases():
        got = page.evaluate("([p, m]) => vidgen.layout(p, m)", [prompt, motion])
        ids = torch.from_numpy(tok.encode(prompt))[None]
        m = torch.tensor([[(x, y, motion["size"]) for x, y in zip(motion["xs"], motion["ys"])]])
        symbol, uv = layout_batch_2d(ids, m)
        assert np.array_equal(np.array(got["symbol"]), symbol.numpy().ravel()), prompt
        assert np.array_equal(np.array(got["uv"], dtype=np.float32), uv.numpy().ravel()), prompt
    for prompt, direction, speed, size in [("HELLO", 180, 3, 20), ("AB", 90, 2, 22), ("Q7", 33.3, 1.7, 16), ("ABCDEFG", 0, 6, 14)]:
        want = line_motion(prompt, direction, speed, size)
        got = page.evaluate("([p, d, s, z]) => vidgen.lineMotion(p, d, s, z)", [prompt, direction, speed, size])
        assert (got["xs"], got["ys"], got["size"]) == ([int(v) for v in want.xs], [int(v) for v in want.ys], want.size)


@in_chromium
def test_the_page_makes_the_librarys_video_from_the_same_noise(page, pipe):
    for i, prompt in enumerate(["HELLO", "O0QD", "ABCDEFGH"]):
        m = pipe.sample_motion(prompt, i)
        x = torch.randn(16, 32, 32, generator=torch.Generator().manual_seed(i)).numpy()
        motion = {"xs": [int(v) for v in m.xs], "ys": [int(v) for v in m.ys], "size": m.size}
        got = page.evaluate("async ([p, m, x]) => { const out = await vidgen.generate({prompt: p, motion: m, noise: "
                            "Float32Array.from(x)}); return Array.from(out.frames); }", [prompt, motion, x.ravel().tolist()])
        want = pipe.generate(prompt, motion=m, noise=x).astype(int).ravel()
        assert np.abs(np.array(got) - want).max() <= EQUAL_PIXELS, prompt


@in_chromium
def test_the_page_refuses_bad_input_with_the_librarys_words(page):
    for prompt in ["hi!", "ABCDEFGHIJ", "", "HELLO WORLD"]:
        with pytest.raises(ValueError) as want:
            tok.normalize_prompt(prompt)
        got = page.evaluate("async (p) => { try { await vidgen.generate({prompt: p}); return null; } catch (e) { return e.message; } }", prompt)
        assert got == str(want.value)
    with pytest.raises(ValueError) as want:
        line_motion("ABCDEFGH", 90, 1, 24)
    got = page.evaluate("async () => { try { await vidgen.lineMotion('ABCDEFGH', 90, 1, 24); return null; } catch (e) { return e.message; } }")
    assert got == str(want.value)


@in_chromium
def test_the_page_shows_both_steps_then_the_video_and_its_gif(page):
    page.fill("#prompt", "vid 26")
    page.click("#generate")
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "outside the allowed symbols" in page.inner_text("#error")
    page.fill("#prompt", "vid26")
    page.click("#generate")
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    assert page.locator("#steps .step").count() == 2 and page.locator("#steps canvas").count() == 4
    assert page.get_attribute("#download", "href").startswith("blob:")
    assert page.get_attribute("#download", "download") == "VID26_seed0.gif"


@in_chromium
def test_the_app_links_to_the_page(page):
    app = page.context.new_page()
    app.goto(page.app_url)
    app.wait_for_selector("#browser-link a", timeout=30_000)
    assert app.get_attribute("#browser-link a", "href") == "/browser/"
    app.close()


@in_chromium
def test_the_page_takes_fewer_threads_when_asked(page):
    most = page.evaluate("vidgen.ready.then(r => r.threads)")
    one = page.context.new_page()
    one.goto(page.url + "?threads=1")
    one.wait_for_function("window.vidgen !== undefined", timeout=60_000)
    assert one.evaluate("vidgen.ready.then(r => r.threads)") == 1 and most >= 1
    one.goto(page.url + "?threads=64")  # never more than the page can have
    one.wait_for_function("window.vidgen !== undefined", timeout=60_000)
    assert one.evaluate("vidgen.ready.then(r => r.threads)") == most
    one.close()
