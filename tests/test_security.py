"""No pickle anywhere, the app serves only its own files, the image runs as a non-root user."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import httpx
import pytest
from app_server import running_app
from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([ROOT / "app.py", *(ROOT / "vidgen").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")])


def _dotted(node: ast.AST) -> str:
    """'torch.load' for the call target torch.load, '' for anything that is not a plain name chain."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def unsafe_loads(source: str) -> list[str]:
    """Calls that can unpickle: torch.load without weights_only=True, any pickle/dill/joblib load,
    numpy loads with allow_pickle=True. -> 'line: call' for each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        kwargs = {k.arg: k.value for k in node.keywords}
        safe_weights = isinstance(kwargs.get("weights_only"), ast.Constant) and kwargs["weights_only"].value is True
        if name.endswith("torch.load") and not safe_weights:
            found.append(f"{node.lineno}: {name} without weights_only=True")
        elif re.fullmatch(r"(c?pickle|dill|joblib|shelve)\.(load|loads|open|Unpickler)", name):
            found.append(f"{node.lineno}: {name}")
        elif name.endswith(("np.load", "numpy.load")) and isinstance(kwargs.get("allow_pickle"), ast.Constant) \
                and kwargs["allow_pickle"].value:
            found.append(f"{node.lineno}: {name} with allow_pickle=True")
    return found


def test_the_scanner_finds_what_it_looks_for():
    bad = "import torch, pickle\ntorch.load('x')\ntorch.load('x', weights_only=False)\npickle.load(f)\n" \
          "import numpy as np\nnp.load('a', allow_pickle=True)\n"
    assert [line.split(":")[0] for line in unsafe_loads(bad)] == ["2", "3", "4", "6"]
    assert unsafe_loads("import torch\ntorch.load('x', weights_only=True)\nnp.load('a')\n") == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_path_unpickles(path):
    assert unsafe_loads(path.read_text()) == []


def test_the_docker_image_runs_as_a_non_root_user():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip() and not line.startswith("#")]
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    cmd = next(i for i, line in enumerate(lines) if line.upper().startswith("CMD"))
    last_user = [line for line in lines[:cmd] if line.upper().startswith("USER ")][-1].split()[1]
    assert users and last_user not in ("root", "0", "0:0")


@pytest.mark.slow
def test_the_app_serves_no_file_a_client_names(tiny_layout_checkpoint, tmp_path):
    """Gradio's file route must refuse paths outside the app's own outputs: absolute paths, ../
    climbs (plain and percent-encoded) and the repository's own files."""
    secret = tmp_path / "secret.txt"
    secret.write_text("vidgen-secret-token")
    targets = [str(secret), "/etc/passwd", str(ROOT / "app.py"), str(ROOT / "checkpoints" / "release" / "config.json")]
    with running_app(tiny_layout_checkpoint) as url:
        base = url.rstrip("/")
        with httpx.Client(timeout=10) as http:
            # the route works: the app's own output is served
            gif = Client(url, verbose=False, download_files=False).predict("AB", 2, api_name="/generate")[1]
            assert http.get(gif["url"]).content[:3] == b"GIF"
            for target in targets:
                for route in (f"/gradio_api/file={target}", f"/file={target}", f"/gradio_api/file=../../../..{target}",
                              f"/gradio_api/file=%2e%2e/%2e%2e/%2e%2e{target}"):
                    r = http.get(base + route)
                    assert r.status_code in (403, 404, 400, 405), (route, r.status_code)
                    assert "vidgen-secret-token" not in r.text and "root:" not in r.text and "import gradio" not in r.text
