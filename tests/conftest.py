"""Shared fixtures: a tiny model trained for a few seconds, reused by every test that needs weights."""
from __future__ import annotations

import pytest
import torch

from vidgen.presets import get_preset
from vidgen.training.trainer import Trainer

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session", autouse=True)
def own_precision_cache(tmp_path_factory):
    """The tests' precision decisions (vidgen.precision) go to a cache of their own, never the user's;
    subprocesses (the CLI, the app) inherit it."""
    import os

    from vidgen.precision import CACHE_ENV

    saved = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("precision_cache"))
    yield
    if saved is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = saved


def _tiny_run(tmp_path_factory, preset: str):
    out = tmp_path_factory.mktemp(preset.replace("-", "_") + "_run")
    p = get_preset(preset)
    Trainer(p.model, p.diffusion, p.train, out, preset_name=preset).fit(max_steps=40, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A run directory of the `tiny` preset after 40 steps (about 2 s on a laptop CPU)."""
    return _tiny_run(tmp_path_factory, "tiny")


@pytest.fixture(scope="session")
def tiny_layout_checkpoint(tmp_path_factory):
    """A run directory of the `tiny-layout` preset (told the glyph layout) after 40 steps."""
    return _tiny_run(tmp_path_factory, "tiny-layout")


@pytest.fixture(scope="session")
def tiny_motion_checkpoint(tmp_path_factory):
    """A run directory of the `tiny-motion` preset (the motion world, told the 2D layout) after 40 steps."""
    return _tiny_run(tmp_path_factory, "tiny-motion")
