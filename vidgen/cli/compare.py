"""`python -m vidgen compare`: train every variant for the same wall-clock budget, evaluate, report."""
from __future__ import annotations

from ..diffusion.sampler import DEFAULT_GUIDANCE, EVAL_STEPS
from ..evaluation.compare import DEFAULT_VARIANTS
from .common import Bounded, UsageError, check_device, guidance_float, positive_float, positive_int, seed_int


def add_compare_args(p) -> None:
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help=f"comma-separated, from: {', '.join(DEFAULT_VARIANTS)} (default: all)")
    p.add_argument("--budget", type=positive_float, required=True, help="training seconds per variant (wall clock)")
    p.add_argument("--size", choices=("tiny", "small"), default="small", help="preset family (default small)")
    p.add_argument("--layout", action="store_true", help="compare the glyph-layout presets (<size>-<variant>-layout)")
    p.add_argument("--template", action="store_true",
                   help="compare the glyph-layout presets with a learned glyph template (<size>-<variant>-template)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="training batch for every variant (default: the presets')")
    p.add_argument("--out", required=True, help="directory for the runs, evaluations and results.json")
    p.add_argument("--doc", default="docs/variants.md", help="the markdown report (default docs/variants.md)")
    p.add_argument("--eval-n", type=positive_int, default=64, help="validation prompts per variant (default 64)")
    p.add_argument("--eval-steps", type=positive_int, default=EVAL_STEPS, help=f"DDIM steps for evaluation (default {EVAL_STEPS})")
    p.add_argument("--guidance", type=guidance_float, default=DEFAULT_GUIDANCE)
    p.add_argument("--timing-steps", type=positive_int, default=10, help="sampling steps timed for ms/step (default 10)")
    p.add_argument("--cost-measure-up-to", type=Bounded(int, -1), default=4096,
                   help="time forward passes in the cost table up to this many tokens (0: analytic only, -1: no cost table)")
    p.add_argument("--recognizer", default=None, help="recognizer directory (default: checkpoints/recognizer)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")


def run_compare(args) -> None:
    from ..evaluation.compare import CompareSettings
    from ..training.variant_comparison import compare

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in DEFAULT_VARIANTS]
    if not variants or unknown:
        raise UsageError(f"--variants: unknown {unknown}; known: {', '.join(DEFAULT_VARIANTS)}")
    check_device(args.device)
    settings = CompareSettings(budget=args.budget, size=args.size, batch_size=args.batch_size, eval_n=args.eval_n, eval_steps=args.eval_steps,
                               guidance=args.guidance, timing_steps=args.timing_steps, seed=args.seed, device=args.device,
                               cost_measure_up_to=args.cost_measure_up_to, layout=args.layout, template=args.template)
    compare(variants, settings, args.out, doc_path=args.doc, recognizer=args.recognizer, progress=not args.no_progress)

