"""Shared fixtures: a tiny model trained for a few seconds, reused by every test that needs weights."""
from __future__ import annotations

import pytest
import torch

from vidgen.config import get_preset
from vidgen.train import Trainer

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A run directory of the `tiny` preset after 40 steps (about 2 s on a laptop CPU)."""
    out = tmp_path_factory.mktemp("tiny_run")
    p = get_preset("tiny")
    Trainer(p.model, p.diffusion, p.train, out, preset_name="tiny").fit(max_steps=40, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_layout_checkpoint(tmp_path_factory):
    """A run directory of the `tiny-layout` preset (told the glyph layout) after 40 steps."""
    out = tmp_path_factory.mktemp("tiny_layout_run")
    p = get_preset("tiny-layout")
    Trainer(p.model, p.diffusion, p.train, out, preset_name="tiny-layout").fit(max_steps=40, progress=False)
    return out
