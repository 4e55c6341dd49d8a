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
