"""The page's header under the title: one line a served model, what a visitor needs to choose one. The
machine's detail (paths, sizes, precision probes) goes in the folded "Details" below it (server.build_header)."""
from __future__ import annotations

from ..pipeline import Pipeline
from ..shipped import SHIPPED_MODELS, served_default


def model_line(name: str, pipe: Pipeline, default: bool = False) -> str:
    """One served model in one line: its name, what it is, its size and how the page samples it at first."""
    title = SHIPPED_MODELS[name].title if name in SHIPPED_MODELS else name
    params = sum(p.numel() for p in pipe.model.parameters())
    sampler, steps = pipe.default_sampling
    mark = ", the default" if default else ""
    return f"**{name}**{mark}: {title}, {params / 1e6:.1f}M parameters, {steps} {sampler.upper()} steps"


def served_summary(pipes: dict[str, Pipeline]) -> str:
    """The served models, one line each, the default first (vidgen.shipped.served_default)."""
    default = served_default(pipes)
    order = sorted(pipes, key=lambda name: name != default)  # stable: the rest keep the registry's order
    return "  \n".join(model_line(name, pipes[name], name == default) for name in order)
