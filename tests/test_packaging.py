"""The project installs as a package: pyproject.toml and requirements.txt name the same packages, the
`vidgen` command is the CLI, and the shipped files are found from the installed package."""
from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_pyproject_and_requirements_name_the_same_packages_and_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    required = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert sorted(declared, key=_name) == sorted(required, key=_name)
    assert "torch==2.13.0" in project["dependencies"]  # a bare `torch` would pull a CUDA build of several GB


def test_the_vidgen_command_is_the_cli():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    module, func = project["scripts"]["vidgen"].split(":")
    import importlib

    entry = getattr(importlib.import_module(module), func)
    from vidgen.cli.main import console

    assert entry is console


def test_a_wheel_carries_the_shipped_folders_where_paths_looks():
    """vidgen/paths.py falls back to vidgen/_shipped/<name>; the wheel's force-include must put them there."""
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert build["force-include"] == {"assets": "vidgen/_shipped/assets", "checkpoints": "vidgen/_shipped/checkpoints"}
    from vidgen import paths

    assert paths._SHIPPED == ROOT / "vidgen" / "_shipped"
    assert paths.ASSETS_DIR == ROOT / "assets" and paths.CHECKPOINTS_DIR == ROOT / "checkpoints"  # a source checkout


def test_the_python_version_is_the_one_everything_here_runs_on():
    """pyproject's floor admits no Python these files cannot run on (tomllib, above, is 3.11's), and the Docker
    image is built on that floor."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    floor = re.fullmatch(r">=(\d+)\.(\d+)", requires)
    assert floor and (int(floor[1]), int(floor[2])) >= (3, 11)
    assert re.search(rf"^FROM python:{floor[1]}\.{floor[2]}-slim$", (ROOT / "Dockerfile").read_text(), re.M)


# The Docker image: .dockerignore decides what is in the build context, the Dockerfile's COPY lines what of it
# goes into the image. Docker's rule: the last pattern that matches a path or one of its parent folders wins.

def _docker_pattern(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regex over /-separated paths (** any folders, * and ? within one name)."""
    parts = re.split(r"(\*\*/?|\*|\?)", pattern.strip("/"))
    glob = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(glob.get(p, re.escape(p)) for p in parts))


def dockerignore_rules(text: str) -> list[tuple[re.Pattern, bool]]:
    """(pattern, excludes) of each line of a .dockerignore, in order."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((_docker_pattern(line.lstrip("!")), not line.startswith("!")))
    return rules


def in_build_context(path: str, rules) -> bool:
    """Whether Docker sends `path` (relative to the context) to the build."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pattern, excludes in rules:
        if any(pattern.fullmatch(p) for p in prefixes):
            excluded = excludes
    return not excluded


def copied_by(dockerfile: str) -> list[str]:
    """The sources of the Dockerfile's COPY lines ("." for the whole context)."""
    sources = []
    for line in dockerfile.splitlines():
        words = [w for w in line.split() if not w.startswith("--")]
        if words and words[0].upper() == "COPY":
            sources += [w.rstrip("/") for w in words[1:-1]]
    return sources


def in_image(path: str) -> bool:
    rules = dockerignore_rules((ROOT / ".dockerignore").read_text())
    sources = copied_by((ROOT / "Dockerfile").read_text())
    copied = any(s == "." or path == s or path.startswith(s + "/") for s in sources)
    return copied and in_build_context(path, rules)


def test_the_dockerignore_reader_follows_dockers_rules():
    rules = dockerignore_rules("*\n!vidgen\n!checkpoints/a\n**/__pycache__\ncheckpoints/*/x.png\n# comment\n")
    assert in_build_context("vidgen/app/server.py", rules) and in_build_context("checkpoints/a/ema.safetensors", rules)
    assert not in_build_context("tests/test_app.py", rules)
    assert not in_build_context("checkpoints/b/ema.safetensors", rules)
    assert not in_build_context("vidgen/app/__pycache__/server.pyc", rules) and not in_build_context("app.py", rules)
    assert not in_build_context("checkpoints/a/x.png", rules)
    assert copied_by("COPY --chown=user:user a.py b/ ./\nRUN x\ncopy c d\n") == ["a.py", "b", "c"]


def test_the_docker_image_carries_what_the_app_needs_and_nothing_else():
    """The image serves the default model (a Space built from it must not fall back) and every other shipped
    one, with the code, the font and requirements; tests, docs, benchmarks, runs and the recognizers stay out."""
    from vidgen.checkpoint import CONFIG_NAME, EMA_NAME
    from vidgen.data.layout import FONT_PATH
    from vidgen.shipped import DEFAULT_MODEL, SHIPPED_MODELS

    def rel(path: Path) -> str:
        return path.relative_to(ROOT).as_posix()

    default = SHIPPED_MODELS[DEFAULT_MODEL].directory
    assert in_image(rel(default / CONFIG_NAME)) and in_image(rel(default / EMA_NAME)), DEFAULT_MODEL
    needed = ["app.py", "requirements.txt", rel(FONT_PATH)]
    needed += [rel(m.directory / name) for m in SHIPPED_MODELS.values() for name in (CONFIG_NAME, EMA_NAME)]
    needed += [rel(p) for m in SHIPPED_MODELS.values() for p in m.directory.glob("*.safetensors")]  # a latent model's VAE
    needed += [rel(p) for p in (ROOT / "vidgen").rglob("*.py") if "__pycache__" not in p.parts]
    needed += ["web/index.html", "web/vidgen.js", "web/layout.js", "web/page.js", "web/package-lock.json",
               "web/model/cond.onnx", "web/model/step.onnx", "web/model/vidgen.json"]  # the in-browser page (its npm files: the Dockerfile's own stage)
    assert [p for p in needed if not in_image(p)] == []
    left_out = ["tests/test_app.py", "docs/app.md", "benchmarks/app_latency.py", "runs/motion-release/ema.safetensors",
                "checkpoints/recognizer-motion/recognizer.safetensors", "checkpoints/release/samples.png",
                ".git/config", "vidgen/__pycache__/shipped.cpython-311.pyc", "README.md",
                "web/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs"]
    assert [p for p in left_out if in_image(p)] == []
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"python", "app.py"' in dockerfile  # the CMD runs the app that was copied


def test_the_docker_image_installs_the_cpu_build_of_the_pinned_torch():
    dockerfile = (ROOT / "Dockerfile").read_text()
    pin = next(line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if _name(line) == "torch")
    assert re.search(rf"pip install {re.escape(pin)} --index-url https://download\.pytorch\.org/whl/cpu\b", dockerfile)


def test_ci_runs_the_readmes_test_command():
    """The README's two set-up commands, and .ci/run ends by running the second exactly as written."""
    setup = (ROOT / "README.md").read_text().split("## Set-up", 1)[1].split("\n## ", 1)[0]
    readme = [line.strip() for line in setup.splitlines() if line.startswith("    pip install -r")]
    assert readme == ["pip install -r requirements.txt && npm ci --prefix web && python app.py",
                      "pip install -r requirements.txt && python -m pytest"]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.strip().startswith("#")]
    assert ci[-1] == readme[1]


def test_the_space_instructions_upload_every_served_model_the_default_first():
    """docs/app.md's upload list names each shipped model's folder, the default's first: a Space built from a
    list without it serves the fallback."""
    from vidgen.shipped import DEFAULT_MODEL, SHIPPED_MODELS

    upload = re.search(r"allow_patterns=\[(.*?)\]", (ROOT / "docs" / "app.md").read_text(), re.S)[1]
    folders = re.findall(r'"checkpoints/([^/"]+)/\*\*"', upload)
    assert sorted(folders) == sorted(m.directory.name for m in SHIPPED_MODELS.values())
    assert folders[0] == SHIPPED_MODELS[DEFAULT_MODEL].directory.name
