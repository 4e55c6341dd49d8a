"""The pictures of docs/latent.md's autoencoder section, drawn from the VAE reports and the VAEs themselves.

    python -m vidgen.evaluation.vae_figures --vaes vae-frame,vae-causal --out docs/latent
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..data.render import to_model_space, to_uint8
from ..data.video_io import frames_grid


def frame_profile_figure(reports: dict[str, dict], split: str = "val"):
    """matplotlib Figure: PSNR by frame index and warping error by frame pair, one line per VAE (`reports`: name ->
    vae_report JSON): where a per-frame VAE's frames disagree with each other, and where a causal VAE's groups meet."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, rep in reports.items():
        row = rep["splits"][split]
        left.plot(range(len(row["psnr_by_frame_db"])), row["psnr_by_frame_db"], "o-", ms=3, label=name)
        right.plot(range(len(row["warping_error_by_pair"])), [255**2 * e for e in row["warping_error_by_pair"]], "o-", ms=3,
                   label=name)
    left.set(xlabel="frame", ylabel="PSNR (dB)", title=f"reconstruction PSNR by frame ({split})")
    right.set(xlabel="frame pair f -> f+1", ylabel="warping error (MSE, 0..255 units)",
              title="warping error with the true motion (the truth: 0)")
    for ax in (left, right):
        ax.legend(fontsize=8)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def reconstruction_strip(video: np.ndarray, vaes: dict, scale: int = 3) -> np.ndarray:
    """uint8 picture, frames as rows: the true video (T, H, W) in the first column, each VAE's reconstruction beside it,
    then each one's absolute error (x4), in the order of `vaes` (name -> VideoVAE)."""
    rows, errors = [video], []
    with torch.no_grad():
        for vae in vaes.values():
            x = to_model_space(video)[None]
            recon = to_uint8(vae.decode(vae.encode(x)[0]))[0]
            rows.append(recon)
            errors.append(np.clip(4 * np.abs(recon.astype(np.int16) - video.astype(np.int16)), 0, 255).astype(np.uint8))
    return frames_grid(rows + errors, scale=scale)


FIGURE_PROMPTS = ("HELLO", "B8S5", "QO0D7WMI")  # a word, look-alikes, 8 symbols; prompt i along the world's motion of seed i


def write_figures(names: list[str], out: Path, reports: Path = Path("docs/reports")) -> list[Path]:
    """vae_reconstructions.png (FIGURE_PROMPTS: the truth, each VAE's reconstruction, each one's error x4) and
    vae_frame_profile.png (from each VAE's committed report, reports/vae_<name>.json) into `out`; -> the files."""
    from PIL import Image

    from ..data.world import WorldConfig, render_motion, sample_motion
    from ..latent.release import load_vae
    from ..shipped import resolve_vae_path

    missing = [reports / f"vae_{name}.json" for name in names if not (reports / f"vae_{name}.json").is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is missing: run `python -m vidgen vae-report --vae {missing[0].stem[4:]}` first")
    vaes = {name: load_vae(resolve_vae_path(name))[0] for name in names}
    sizes = {(v.cfg.height, v.cfg.width) for v in vaes.values()}
    if len(sizes) != 1:
        raise ValueError(f"the VAEs code frames of different sizes ({sorted(sizes)}): draw them apart")
    scale = next(iter(sizes))[0] // 32
    world = WorldConfig(scale=scale)
    strips = []
    for i, prompt in enumerate(FIGURE_PROMPTS):
        motion = sample_motion(prompt, world, np.random.default_rng(i))
        strips.append(reconstruction_strip(render_motion(prompt, motion, scale), vaes))
    gap = np.full((strips[0].shape[0], 12), 64, np.uint8)
    picture = np.concatenate([x for s in strips for x in (s, gap)][:-1], axis=1)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "vae_reconstructions.png", out / "vae_frame_profile.png"]
    Image.fromarray(picture).save(files[0])
    loaded = {name: json.loads((reports / f"vae_{name}.json").read_text()) for name in names}
    frame_profile_figure(loaded).savefig(files[1], dpi=110)
    return files


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vidgen.evaluation.vae_figures", description=__doc__.splitlines()[0])
    p.add_argument("--vaes", default="vae-frame,vae-causal", help="comma-separated VAE releases or shipped names")
    p.add_argument("--out", default="docs/latent", help="folder for the PNG files")
    p.add_argument("--reports", default="docs/reports", help="where the VAEs' reports are (vae_<name>.json)")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.vaes.split(",") if n.strip()]
    try:
        files = write_figures(names, Path(args.out), Path(args.reports))
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    for path in files:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
