"""Training, checkpoints, exact resume and DDP."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vidgen import checkpoint as ckpt
from vidgen.pipeline import load_pipeline
from vidgen.presets import get_preset
from vidgen.training.optimizer_state import optimizer_from_tensors, optimizer_to_tensors
from vidgen.training.trainer import Trainer, apply_resume_changes, lr_at

ROOT = Path(__file__).resolve().parent.parent


def _train(out, steps, resume=False, preset="tiny"):
    p = get_preset(preset)
    tr = Trainer(p.model, p.diffusion, p.train, out, resume=resume, preset_name=preset)
    tr.fit(max_steps=steps, progress=False)
    return tr


def test_training_reduces_the_loss(tmp_path):
    tr = _train(tmp_path / "run", 60)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["loss"] < log[0]["loss"]
    assert len(log[-1]["mse_by_bucket"]) == 10
    assert "val_loss" in log[-1] or any("val_loss" in r for r in log)
    assert tr.samples_seen == 60 * 8


def test_fit_reports_the_final_step_between_log_lines(tmp_path):
    p = get_preset("tiny")  # logs every 10 steps
    result = Trainer(p.model, p.diffusion, p.train, tmp_path / "run").fit(max_steps=13, progress=False)
    assert result["step"] == 13 and result["samples_seen"] == 13 * p.train.batch_size
    assert "loss" in result  # the last log line's loss comes along


def test_optimizer_state_is_keyed_by_parameter_name():
    """A change in the order the model registers its parameters must not scramble a resumed run."""
    from vidgen.models import build_model

    torch.manual_seed(0)
    model = build_model(get_preset("tiny").model)
    opt = torch.optim.AdamW(model.parameters())
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    opt.step()
    tensors, meta = optimizer_to_tensors(opt, model)
    reordered = torch.optim.AdamW(list(model.parameters())[::-1])
    optimizer_from_tensors(reordered, model, tensors, meta)
    for p in model.parameters():
        assert torch.equal(opt.state[p]["exp_avg"], reordered.state[p]["exp_avg"])
    # state keyed by index (as vidgen once saved it) read with another order: a clear error, not a crash mid-step
    sd = opt.state_dict()
    legacy = {f"{i}.{k}": v for i, st in sd["state"].items() for k, v in st.items()}
    with pytest.raises(ckpt.CheckpointError, match="older vidgen"):
        optimizer_from_tensors(reordered, model, legacy, {"param_groups": sd["param_groups"]})


@pytest.mark.parametrize("preset", ["tiny", "tiny-learned", "tiny-attnsup"])
def test_resume_is_exact(tmp_path, preset):
    """N steps straight == N/2, stop, resume, N/2 more: same weights, EMA and optimizer state (also with
    a layout predictor's own parameter group, and with attention supervision)."""
    _train(tmp_path / "straight", 30, preset=preset)
    _train(tmp_path / "split", 15, preset=preset)
    _train(tmp_path / "split", 30, resume=True, preset=preset)
    for name in (ckpt.MODEL_NAME, ckpt.EMA_NAME, ckpt.STATE_NAME):
        a, b = load_file(tmp_path / "straight" / name), load_file(tmp_path / "split" / name)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}:{k} differs after resume"


def test_resume_may_change_only_the_lr_schedule(tmp_path):
    """A run that goes on past its plan may get a longer cosine horizon; the change is saved."""
    _train(tmp_path / "run", 4)
    p = get_preset("tiny")
    tr = Trainer(p.model, p.diffusion, p.train, tmp_path / "run", resume=True, preset_name="tiny",
                 resume_changes={"lr_decay_steps": 77, "lr": None})
    assert tr.step == 4 and tr.cfg.lr_decay_steps == 77 and tr.cfg.batch_size == p.train.batch_size
    tr.fit(max_steps=6, progress=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["lr_decay_steps"] == 77
    saved = tr.cfg
    same, real = apply_resume_changes(saved, {"batch_size": saved.batch_size, "holdout_single": False, "lr": 5e-4})
    assert same.lr == 5e-4 and real == {"lr": 5e-4}  # repeating the first command's values is not a change
    with pytest.raises(ValueError, match="batch_size"):
        apply_resume_changes(saved, {"batch_size": saved.batch_size + 1, "lr": 1e-3})
    with pytest.raises(ValueError, match="holdout_single"):
        apply_resume_changes(saved, {"holdout_single": True})


def test_checkpoint_roundtrip_gives_identical_samples(tmp_path):
    """A model in memory, written as a release and read back: the same weights, tensor for tensor, and
    the same samples as the model it was written from."""
    from vidgen.models import build_model
    from vidgen.pipeline import Pipeline

    p = get_preset("tiny-layout")
    torch.manual_seed(5)
    model = build_model(p.model).eval()
    for param in model.parameters():  # away from the zero initialisation, so samples depend on every weight
        torch.nn.init.normal_(param, std=0.05)
    ckpt.write_set(tmp_path / "release", {ckpt.EMA_NAME: ckpt.tensor_bytes(model.state_dict()),
                                          ckpt.CONFIG_NAME: ckpt.json_bytes(ckpt.config_dict(p.model, p.diffusion, None))})
    loaded = load_pipeline(tmp_path / "release", bf16=False)
    assert loaded.model.cfg == p.model
    state = loaded.model.state_dict()
    assert state.keys() == model.state_dict().keys() and all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    in_memory = Pipeline(model, p.diffusion, bf16=False)
    a = in_memory.generate(["AB", "XYZ"], steps=4, seed=1)
    b = loaded.generate(["AB", "XYZ"], steps=4, seed=1)
    assert a.shape == (2, 16, 32, 32) and a.dtype.name == "uint8" and a.std() > 0
    assert (a == b).all()


def test_missing_truncated_and_mismatched_checkpoints(tiny_checkpoint, tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        load_pipeline(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((tiny_checkpoint / "config.json").read_text())
    data = (tiny_checkpoint / "ema.safetensors").read_bytes()
    (bad / "ema.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ckpt.CheckpointError, match="truncated or corrupt"):
        load_pipeline(bad)
    # a config that does not fit the weights
    cfg = json.loads((tiny_checkpoint / "config.json").read_text())
    cfg["model"]["dim"] = 64
    (bad / "config.json").write_text(json.dumps(cfg))
    (bad / "ema.safetensors").write_bytes(data)
    with pytest.raises(ckpt.CheckpointError, match="does not match"):
        load_pipeline(bad)
    cfg["model"]["colour"] = "blue"
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ckpt.CheckpointError, match="unknown fields"):
        load_pipeline(bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ckpt.CheckpointError, match="cannot parse"):
        load_pipeline(bad)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    ckpt.atomic_write_json(tmp_path / "a.json", {"x": 1})
    ckpt.atomic_write_json(tmp_path / "a.json", {"x": 2})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_lr_schedule():
    cfg = get_preset("small").train
    assert lr_at(0, cfg) < lr_at(cfg.warmup_steps - 1, cfg) == pytest.approx(cfg.lr)
    import dataclasses

    decay = dataclasses.replace(cfg, lr_decay_steps=1000)
    assert lr_at(1000, decay) == pytest.approx(cfg.lr * cfg.min_lr_ratio)
    assert lr_at(5000, cfg) == cfg.lr


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tmp_path):
    """torchrun --nproc-per-node 2 trains as DDP (gloo): both ranks step and rank 0 writes; rank 0 alone
    times the precision (an empty cache, so it measures) and every rank trains in its choice."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), VIDGEN_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
           "-m", "vidgen", "train", "--preset", "tiny", "--out", str(tmp_path / "ddp"), "--max-steps", "6", "--no-progress"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    # the ranks' own lines (their first words say why one died), not torch's warnings or torchrun's summary
    own = [line for line in res.stderr.splitlines() if not line.startswith((" ", "grad.sizes", "bucket_view", "/"))]
    assert res.returncode == 0, "\n".join(own[:40])
    cfg = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert cfg["world_size"] == 2 and cfg["step"] == 6
    assert cfg["samples_seen"] == 6 * 8 * 2
    probes = [line for line in res.stderr.splitlines() if line.startswith("precision:")]
    assert len(probes) == 1 and "measured" in probes[0], res.stderr[-2000:]
    assert cfg["train"]["bf16"] == (": bf16," in probes[0])
    load_pipeline(tmp_path / "ddp").generate("AB", steps=2)


def test_export_release(tiny_checkpoint, tmp_path):
    out = ckpt.export_release(tiny_checkpoint, tmp_path / "release", default_guidance=2.5)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "ema.safetensors"]
    pipe = load_pipeline(out)
    assert pipe.config["default_guidance"] == 2.5
    assert pipe.default_guidance == 2.5
    a = pipe.generate("AB", steps=3, seed=2)  # the release's default guidance, 2.5
    b = load_pipeline(tiny_checkpoint).generate("AB", steps=3, seed=2, guidance_scale=2.5)
    assert (a == b).all()


def test_ctrl_c_saves_at_a_step_boundary_and_resumes_exactly(tmp_path, monkeypatch):
    import signal

    p = get_preset("tiny")
    tr = Trainer(p.model, p.diffusion, p.train, tmp_path / "int", preset_name="tiny")
    original = Trainer.train_step

    def step_then_interrupt(self):
        out = original(self)
        if self.step == 7:
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C during step 7
        return out

    monkeypatch.setattr(Trainer, "train_step", step_then_interrupt)
    result = tr.fit(max_steps=20, progress=False)
    monkeypatch.undo()
    assert result["interrupted"] and result["step"] == 7
    assert json.loads((tmp_path / "int" / "config.json").read_text())["step"] == 7
    _train(tmp_path / "int", 20, resume=True)
    _train(tmp_path / "straight", 20)
    a, b = load_file(tmp_path / "int" / ckpt.EMA_NAME), load_file(tmp_path / "straight" / ckpt.EMA_NAME)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_recipe_names_set_the_training_config_and_guided_score_sees_dropout(tmp_path):
    from vidgen.training.recipe_names import parse_recipe

    base = get_preset("tiny")
    diff, train = parse_recipe("eps-linear-none-lr3e-4-bs4-ema0.99-nowarm-gdrop0.2-seed3", base)
    assert (diff.prediction, diff.schedule) == ("eps", "linear")
    assert (train.loss_weighting, train.lr, train.batch_size) == ("none", 3e-4, 4)
    assert (train.ema_decay, train.ema_warmup, train.guidance_dropout, train.seed) == (0.99, False, 0.2, 3)
    assert parse_recipe("v-cosine-none-cfg0.3", base)[1].guidance_dropout == 0.3  # the name docs/recipe.md's runs had
    with pytest.raises(ValueError, match="unknown part"):
        parse_recipe("v-cosine-none-foo1", base)
    # the guided score is the conditional one at scale 1 and differs from it at scale 3
    # (a few steps first: the zero-initialised output layer makes cond == uncond at step 0)
    diff, train = parse_recipe("v-cosine-none-gdrop0.5", base)
    tr = Trainer(base.model, diff, train, tmp_path / "run")
    tr.fit(max_steps=30, progress=False)
    plain = tr.validation_loss()["val_x0_mse"]
    assert tr.validation_loss(guidance_scale=1.0)["val_x0_mse"] == pytest.approx(plain, rel=1e-5)
    assert abs(tr.validation_loss(guidance_scale=3.0)["val_x0_mse"] - plain) > 1e-4


def test_the_best_validation_ema_is_kept_and_exported(tmp_path):
    run = tmp_path / "run"
    tr = _train(run, 50)  # tiny validates every 50 steps
    best = json.loads((run / ckpt.BEST_JSON).read_text())
    assert best["step"] == 50 and best["val_loss"] == pytest.approx(tr.validation_loss()["val_loss"], rel=1e-5)
    kept = load_file(run / ckpt.BEST_EMA_NAME)
    # a worse validation later leaves the best weights alone; a better one replaces them
    with torch.no_grad():
        for p in tr.ema.parameters():
            p.add_(1.0)
    tr._keep_if_best(best["val_loss"] + 1.0)
    after = load_file(run / ckpt.BEST_EMA_NAME)
    assert all(torch.equal(after[k], kept[k]) for k in kept)
    tr.save()  # the latest EMA is now the shifted one
    ckpt.export_release(run, tmp_path / "rel", best=True)
    exported = load_file(tmp_path / "rel" / ckpt.EMA_NAME)
    assert all(torch.equal(exported[k], kept[k]) for k in kept)
    cfg = json.loads((tmp_path / "rel" / ckpt.CONFIG_NAME).read_text())
    assert cfg["step"] == 50 and cfg["exported_best_val_loss"] == best["val_loss"]
    tr._keep_if_best(best["val_loss"] / 2)
    assert json.loads((run / ckpt.BEST_JSON).read_text())["val_loss"] == best["val_loss"] / 2
    (run / ckpt.BEST_EMA_NAME).unlink()
    with pytest.raises(ckpt.CheckpointError, match="no ema_best"):
        ckpt.export_release(run, tmp_path / "rel2", best=True)
    # a malformed best.json: export says so; training replaces it instead of stopping
    tr._keep_if_best(0.0)  # lower than any record: writes ema_best again
    (run / ckpt.BEST_JSON).write_text('{"step": "fifty"}')
    with pytest.raises(ckpt.CheckpointError, match="integer 'step'"):
        ckpt.export_release(run, tmp_path / "rel3", best=True)
    with pytest.warns(UserWarning, match="replacing it"):
        tr._keep_if_best(0.7)
    assert ckpt.read_best(run)["val_loss"] == 0.7


def test_snapshots_keep_the_ema_along_the_way(tmp_path):
    import dataclasses

    p = get_preset("tiny-layout")
    train = dataclasses.replace(p.train, snapshot_every=4, val_every=0, ckpt_every=0, log_every=4, batch_size=4)
    tr = Trainer(p.model, p.diffusion, train, tmp_path / "run", preset_name="tiny-layout")
    tr.fit(max_steps=8, progress=False)
    snaps = sorted(d.name for d in (tmp_path / "run" / ckpt.SNAPSHOT_DIR).iterdir())
    assert snaps == ["step_000004", "step_000008"]
    last = load_pipeline(tmp_path / "run" / ckpt.SNAPSHOT_DIR / "step_000008")
    assert last.config["step"] == 8 and last.model.cfg.layout == "glyph"
    for k, v in tr.ema.state_dict().items():
        assert torch.equal(last.model.state_dict()[k], v), k
    first = load_file(tmp_path / "run" / ckpt.SNAPSHOT_DIR / "step_000004" / ckpt.EMA_NAME)
    assert any(not torch.equal(first[k], v) for k, v in tr.ema.state_dict().items())  # an earlier EMA


def test_a_config_written_before_a_rename_still_loads():
    """cfg_dropout was renamed guidance_dropout: old runs' config.json load, a config with both names is refused."""
    from vidgen.jsonconfig import config_from_dict
    from vidgen.training.config import TrainConfig
    assert config_from_dict(TrainConfig, {"cfg_dropout": 0.2}, "train").guidance_dropout == 0.2
    with pytest.raises(ValueError, match="both 'cfg_dropout'"):
        config_from_dict(TrainConfig, {"cfg_dropout": 0.2, "guidance_dropout": 0.1}, "train")
