"""The variant comparison's report: docs/variants.md written from results.json (the table, the
findings read against the thesis, the sample grids and the cost table). Presentation only: the
figures come from vidgen.evaluation.compare. The findings pick their rows by how each variant's class
mixes space and time (VideoDenoiser.SPACE_TIME), never by its name."""
from __future__ import annotations

import shutil
from pathlib import Path

from .. import checkpoint as ckpt
from ..models import VARIANTS, compared_variant_class
from ..presets import get_preset
from .compare import ordered
from .cost import cost_markdown

FACTORISED = ("in-block", "alternating")  # the SPACE_TIME of the transformers that attend over space and time apart
THESIS_PLACEMENTS = ("between", "spatial", "both")  # Latte's text placements in the thesis's order (its v1, v2, v3)


def _f(v, fmt: str = ".3f", pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else format(v, fmt)


def results_table(results: dict) -> str:
    head = ("| variant | preset | params | steps | train samples/s | sample ms/step | val loss (EMA) | sentence acc | "
            "CER | PSNR dB | SSIM | speed err px/frame | flicker |")
    lines = [head, "|---" * 13 + "|"]
    for v, r in ordered(results["variants"]).items():
        lines.append(
            f"| {v} | `{r['preset']}` | {r['params'] / 1e6:.2f}M | {r['steps']} | {r['samples_per_s']:.1f} | "
            f"{r['sample_ms_per_step']:.1f} | {r['val_loss']:.4f} | {_f(r.get('exact'), pct=True)} | {_f(r.get('cer'))} | "
            f"{_f(r.get('psnr'), '.2f')} | {_f(r.get('ssim'))} | {_f(r.get('speed_abs_error'), '.2f')} | {_f(r.get('flicker'))} |"
        )
    return "\n".join(lines)


def _best(rows: dict, key: str, high: bool = True) -> str | None:
    have = {v: r[key] for v, r in rows.items() if r.get(key) is not None}
    return (max if high else min)(have, key=have.get) if have else None


def _readable(rows: dict) -> bool:
    return any((r.get("exact") or 0) > 0 for r in rows.values())


def _headline(rows: dict) -> str | None:
    b_exact, b_psnr, b_flicker, b_val = (_best(rows, "exact"), _best(rows, "psnr"), _best(rows, "flicker", high=False),
                                         _best(rows, "val_loss", high=False))
    if not b_psnr:
        return None
    top = [v for v, r in rows.items() if r.get("exact") == rows[b_exact]["exact"]] if _readable(rows) else []
    most = (f"Most readable: **{b_exact}** (sentence accuracy {_f(rows[b_exact]['exact'], pct=True)}, "
            f"CER {_f(rows[b_exact]['cer'])}); " if len(top) == 1 else
            f"Most readable: {', '.join(f'**{v}**' for v in top)} (all {_f(rows[b_exact]['exact'], pct=True)}); " if top else "")
    return (f"{most}{'b' if most else 'B'}est PSNR: **{b_psnr}** ({_f(rows[b_psnr]['psnr'], '.2f')} dB); least flicker: "
            f"**{b_flicker}** ({_f(rows[b_flicker]['flicker'])}); lowest validation loss: **{b_val}** ({rows[b_val]['val_loss']:.4f}).")


def _ranking(rows: dict) -> str | None:
    if not _readable(rows) or not all(r.get("exact") is not None and r.get("psnr") is not None for r in rows.values()):
        return None
    ranked = sorted(rows, key=lambda v: (-rows[v]["exact"], -rows[v]["psnr"]))
    return "Ranked by sentence accuracy, ties broken by PSNR: " + " > ".join(
        f"{v} ({_f(rows[v]['exact'], pct=True)}, {_f(rows[v]['psnr'], '.1f')} dB)" for v in ranked) + "."


def _throughput(rows: dict) -> str | None:
    fastest = _best(rows, "samples_per_s")
    if not fastest:
        return None
    return (f"Most training samples per second: **{fastest}** ({rows[fastest]['samples_per_s']:.1f}/s), so at equal "
            "wall-clock it saw the most data: " + ", ".join(f"{v} {r['samples_seen']}" for v, r in rows.items()) + " samples.")


def _unreadable(rows: dict) -> str | None:
    if _readable(rows) or not _best(rows, "exact"):
        return None
    return ("No variant reads a single prompt exactly at this budget, so readability cannot rank them: the "
            "verdicts below fall back on the validation loss; raise --budget for a reading that means something.")


def _mixing(rows: dict, *kinds: str) -> list[str]:
    """The rows, in table order, whose variant's class mixes space and time as one of `kinds` (SPACE_TIME)."""
    return [v for v in rows if compared_variant_class(v).SPACE_TIME in kinds]


def _factorised(rows: dict) -> str | None:
    joint, factorised = _mixing(rows, "joint"), _mixing(rows, *FACTORISED)
    if not joint or not factorised:
        return None
    readable, f = _readable(rows), rows[joint[0]]

    def score(r):  # readability first; the validation loss when nothing is readable
        return ((r.get("exact") or 0), -(r.get("cer") or 1), -r["val_loss"]) if readable else (-r["val_loss"],)

    best_fact = max(factorised, key=lambda v: score(rows[v]))
    r = rows[best_fact]
    verdict = "helped" if score(r) > score(f) else "did not help"
    return (f"Did separating space and time help here? The best factorised transformer, {best_fact}, reads "
            f"{_f(r.get('exact'), pct=True)} of the prompts exactly against full attention's {_f(f.get('exact'), pct=True)} "
            f"(validation loss {r['val_loss']:.4f} vs {f['val_loss']:.4f}, flicker {_f(r.get('flicker'))} vs "
            f"{_f(f.get('flicker'))}, {r['samples_per_s']:.1f} vs {f['samples_per_s']:.1f} samples/s): at this budget "
            f"factorising {verdict}. The thesis found GenTron's frames the most precise and Latte's motion the most "
            "coherent, and concluded that handling space and time separately gave its best results.")


def _gentron_vs_latte(rows: dict) -> str | None:
    in_block = _mixing(rows, "in-block")
    alternating = [v for v in _mixing(rows, "alternating") if v in VARIANTS]  # its own preset, not a sibling
    if not in_block or not alternating:
        return None
    g, l = rows[in_block[0]], rows[alternating[0]]
    return (f"GenTron vs Latte (thesis: GenTron sharper frames, Latte smoother motion): SSIM {_f(g.get('ssim'))} vs "
            f"{_f(l.get('ssim'))}, speed error {_f(g.get('speed_abs_error'), '.2f')} vs {_f(l.get('speed_abs_error'), '.2f')} "
            f"px/frame, flicker {_f(g.get('flicker'))} vs {_f(l.get('flicker'))}.")


def _text_placements(rows: dict) -> str | None:
    placement = {v: get_preset(rows[v]["preset"]).model.text_placement for v in _mixing(rows, "alternating")}
    placements = sorted(placement, key=lambda v: THESIS_PLACEMENTS.index(placement[v]) if placement[v] in THESIS_PLACEMENTS else 3)
    if len(placements) < 2:
        return None
    return ("Latte's text placements (thesis: inside the spatial block best, between the blocks gets the motion but "
            "not the symbols, inside both blocks collapsed to black frames): " + "; ".join(
                f"{v} ({placement[v]}) accuracy {_f(rows[v].get('exact'), pct=True)}, "
                f"PSNR {_f(rows[v].get('psnr'), '.2f')}" for v in placements) + ".")


def _snapvideo(rows: dict) -> str | None:
    latent = _mixing(rows, "latent")
    if not latent:
        return None
    s = rows[latent[0]]
    return (f"SnapVideo (thesis: static, blurry videos, the worst of its three): accuracy {_f(s.get('exact'), pct=True)}, "
            f"speed error {_f(s.get('speed_abs_error'), '.2f')} px/frame (a static video scores the full scroll speed), "
            f"{s['samples_per_s']:.1f} samples/s.")


def _conv3d(rows: dict) -> str | None:
    convolution = _mixing(rows, "convolution")
    if not convolution:
        return None
    c = rows[convolution[0]]
    return (f"The factorised-convolution U-Net mixes time only one frame either side per layer: accuracy "
            f"{_f(c.get('exact'), pct=True)}, speed error {_f(c.get('speed_abs_error'), '.2f')} px/frame, flicker {_f(c.get('flicker'))}.")


FINDINGS = (_headline, _ranking, _throughput, _unreadable, _factorised, _gentron_vs_latte, _text_placements, _snapvideo, _conv3d)


def findings(results: dict) -> list[str]:
    """Sentences that read the measured table against the thesis's findings, one small writer each
    (FINDINGS); each cites its numbers, and a writer whose variants were not run says nothing."""
    rows = ordered(results["variants"])
    return [line for write in FINDINGS if (line := write(rows)) is not None]


THESIS = """The thesis (seed 001, Table 4.4; Moving MNIST, 100 epochs, FVD / CLIPSIM / SSIM / PSNR / LPIPS):
GenTron 111.1 / 0.781 / 0.652 / 10.79 / 0.305; Latte v1 (text between blocks) 61.7 / 0.724 / 0.687 / 11.30 / 0.287;
Latte v2 (inside the spatial block) 75.0 / 0.704 / 0.663 / 11.52 / 0.338; Latte v3 (both) 11009 / 0.061 / 0.001 / 1.20 / 0.954
(black frames); SnapVideo v1, 4 groups 302.7 / 0.703 / 0.603 / 10.19 / 0.363. Its reading: GenTron gives the most precise
frames with occasionally incoherent motion, Latte smoother motion with distorted digits, SnapVideo static and blurry
videos; text injected in the spatial attention worked best, text in the temporal blocks hurt."""


def write_report(results: dict, doc_path: Path, out_dir: Path) -> None:
    """docs/variants.md with the table, the findings, a sample grid per variant (copied next to the
    document) and the cost table."""
    s = results["settings"]
    img_dir = doc_path.parent / doc_path.stem  # docs/variants.md -> docs/variants/
    img_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# The architectures side by side",
        "",
        f"Each variant trained from scratch for **{s['budget']:.0f} s** of wall clock on {results['machine']} "
        f"(device {s['device']}), `{s['size']}`"
        f"{'-template (told the glyph layout, learning a glyph template)' if s.get('template') else '-layout (told the glyph layout)' if s.get('layout') else ''} presets"
        f"{'' if s.get('batch_size') is None else ' at batch ' + str(s['batch_size'])}, then evaluated by the harness on {s['eval_n']} validation prompts "
        f"({s['eval_steps']} DDIM steps, guidance {s['guidance']}, EMA weights). Sampling ms/step: one prompt with guidance, "
        f"median of {s['timing_steps']} steps. Equal wall-clock is a fair budget only on an otherwise idle machine: the "
        "samples/s column shows what each run actually got. Reproduce with:",
        "",
        "```",
        f"python -m vidgen compare --variants {','.join(ordered(results['variants']))} --size {s['size']} "
        f"{'--template ' if s.get('template') else '--layout ' if s.get('layout') else ''}--budget {s['budget']:g} "
        f"{'' if s.get('batch_size') is None else '--batch-size ' + str(s['batch_size']) + ' '}--eval-n {s['eval_n']} --eval-steps {s['eval_steps']} --out {out_dir} --doc {doc_path}",
        "```",
        "",
        results_table(results),
        "",
        "Sentence accuracy and CER are read by the shipped recognizer; PSNR/SSIM are per frame against the true render; "
        "speed error is the measured scroll speed against the truth; flicker is the frame difference after undoing the "
        "true motion (the truth scores 0). See `vidgen/evaluation/harness.py`.",
        "",
        "## What the numbers say",
        "",
        *[f"- {line}" for line in findings(results)],
        "",
        THESIS,
        "",
        "## Samples (generated | true, frames top to bottom)",
        "",
    ]
    for v, r in ordered(results["variants"]).items():
        grid = Path(r["grid"])
        if grid.is_file():
            shutil.copyfile(grid, img_dir / f"{v}.png")
            lines += [f"### {v}", "", f"![{v}]({img_dir.name}/{v}.png)", ""]
    if results.get("cost"):
        lines += [
            "## Cost as the video grows",
            "",
            "Attention FLOPs (QK^T and AV) and score entries per forward pass for one video, analytic (checked against "
            "torch's FLOP counter in tests/test_variants.py); other GFLOPs are the linear and convolution layers as torch "
            "counts them; forward ms is measured (batch 1, no grad) up to "
            f"{s['cost_measure_up_to']} tokens. Full attention grows with the square of the token count, the factorised "
            "variants with tokens x (frame area + frames), SnapVideo linearly in tokens, conv3d has no video self-attention.",
            "",
            cost_markdown(results["cost"]),
            "",
        ]
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    ckpt.atomic_write_bytes(doc_path, "\n".join(lines).encode())
