"""How close each deterministic sampler lands to the exact end point of the probability-flow ODE, on a denoiser
that is exact (Gaussian data, vidgen.diffusion.oracle): the figures behind docs/sampling.md's "DPM-Solver++
lands N times closer than DDIM" and its UniPC line. Deterministic; no model, no training.

    python -m benchmarks.solvers [--prediction v|eps] [--json FILE]
"""
from __future__ import annotations

import argparse
import json

from vidgen.diffusion.oracle import solver_errors
from vidgen.diffusion.schedule import DiffusionConfig, NoiseSchedule


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py checks the docs' commands against it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prediction", choices=("v", "eps"), default="v", help="what the network predicts (default v, the shipped models')")
    ap.add_argument("--json", default=None)
    return ap


def main():
    ap = build_parser()
    args = ap.parse_args()
    steps = (10, 20, 50, 1000)
    errors = solver_errors(NoiseSchedule(DiffusionConfig(prediction=args.prediction)), samplers=("ddim", "dpm++2m", "unipc"),
                           steps=steps)
    rows = {n: {"ddim": errors["ddim", n], "dpm++2m": errors["dpm++2m", n], "unipc": errors["unipc", n],
                "ddim_over_dpm": errors["ddim", n] / errors["dpm++2m", n],
                "dpm_over_unipc": errors["dpm++2m", n] / errors["unipc", n]} for n in steps}
    print(f"max |x0 - exact ODE end point|, cosine schedule, {args.prediction} prediction")
    print("| steps | DDIM | DPM-Solver++(2M) | DPM-Solver++ closer by | UniPC | UniPC closer than DPM-Solver++ by |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, r in rows.items():
        print(f"| {n} | {r['ddim']:.2e} | {r['dpm++2m']:.2e} | {r['ddim_over_dpm']:.1f}x | {r['unipc']:.2e} | {r['dpm_over_unipc']:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"prediction": args.prediction, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
