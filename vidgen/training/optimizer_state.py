"""The optimizer's state as safetensors and JSON: moments keyed by parameter name, nothing pickled."""
from __future__ import annotations

import torch

from ..checkpoint import STATE_JSON, CheckpointError


def _param_names(opt: torch.optim.Optimizer, model: torch.nn.Module) -> list[str]:
    """The model's name of each parameter, in the optimizer's index order."""
    names = {id(p): n for n, p in model.named_parameters()}
    return [names[id(p)] for group in opt.param_groups for p in group["params"]]


def optimizer_to_tensors(opt: torch.optim.Optimizer, model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
    """AdamW state -> flat tensors keyed by parameter name ("blocks.0.attn.to_q.weight::exp_avg") + JSON
    (param groups), with no pickling. Names, not indices, so that a run survives a change in the
    order the model registers its parameters."""
    sd = opt.state_dict()
    names = _param_names(opt, model)
    tensors: dict[str, torch.Tensor] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            tensors[f"{names[pid]}::{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return tensors, {"param_groups": sd["param_groups"], "state_keys": "name"}


def optimizer_from_tensors(opt: torch.optim.Optimizer, model: torch.nn.Module, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Load what optimizer_to_tensors wrote; every moment buffer must match its parameter's shape.
    (State from before names were used is keyed by index and is checked the same way.)"""
    names = _param_names(opt, model)
    params = [p for group in opt.param_groups for p in group["params"]]
    index = {n: i for i, n in enumerate(names)}
    state: dict[int, dict] = {}
    by_name = meta.get("state_keys") == "name"
    for key, v in tensors.items():
        if by_name:
            pname, field = key.rsplit("::", 1) if "::" in key else (key, "")
            if pname not in index:
                raise CheckpointError(f"optimizer state names a parameter this model lacks: {pname}")
            pid = index[pname]
        else:
            pid_str, _, field = key.partition(".")
            if not pid_str.isdigit():
                raise CheckpointError(f"optimizer state key {key!r} is neither 'name::field' nor 'index.field' "
                                      f"(is {STATE_JSON} the one written with these tensors?)")
            pid = int(pid_str)
            if not 0 <= pid < len(params):
                raise CheckpointError(f"optimizer state for parameter {pid}, but this model has {len(params)}")
        if v.dim() > 0 and v.shape != params[pid].shape:
            raise CheckpointError(
                f"optimizer state {field!r} of {names[pid]} has shape {tuple(v.shape)}, the parameter {tuple(params[pid].shape)}"
                + ("" if meta.get("state_keys") == "name" else " (state saved by index by an older vidgen, whose parameter order differed)"))
        state.setdefault(pid, {})[field] = v
    try:
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as e:
        raise CheckpointError(f"optimizer state does not fit this model: {e!r}") from e
