"""The docs' commands run as written: every command line in README.md, docs/*.md and checkpoints/README.md
names a real subcommand or module and only flags (and choices) that command's own parser accepts.

The parsers are built, never run: `vidgen.cli.main.build_parser()`, each benchmark's `build_parser()`, the
app's `vidgen.app.settings.build_parser()`. Flags are matched exactly (argparse would also take an
abbreviation such as `--checkpoint` for `--checkpoints`; a reader copying it should not have to rely on that).
"""
from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", ROOT / "checkpoints" / "README.md", *(ROOT / "docs").glob("*.md")])

# A value written as a placeholder (N, DIR, RUN_DIR, <subcommand>, ...) stands for any value.
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*|<[^>]*>|\.\.\.|…")
ENV_ASSIGNMENT = re.compile(r"[A-Z_][A-Z0-9_]*=\S*")


def code_texts(text: str) -> list[tuple[int, str, bool]]:
    """(line number, code, is a code-block line) for every code-block line and inline code span of a Markdown text."""
    found, prose, fenced, in_code = [], [], False, False
    for number, line in enumerate(text.split("\n"), 1):
        # an indented code block starts after a blank line (it cannot interrupt a paragraph) and runs while indented
        in_code = line.startswith("    ") and (in_code or number == 1 or not prose[-1].strip())
        if line.lstrip().startswith("```"):
            fenced = not fenced
            prose.append("")
        elif fenced or in_code:
            found.append((number, re.sub(r"\s+#\s.*$", "", line.strip()), True))  # minus its comment
            prose.append("")
        else:
            prose.append(line)
    joined = "\n".join(prose)
    for m in re.finditer(r"`([^`]+)`", joined):
        if "\n\n" not in m.group(1):  # a span never crosses a paragraph
            found.append((joined.count("\n", 0, m.start()) + 1, " ".join(m.group(1).split()), False))
    return found


def commands(text: str) -> list[tuple[int, list[str], bool]]:
    """(line, argv from the program on, is a code-block line) for every vidgen, benchmark or app command."""
    out = []
    for number, code, block in code_texts(text):
        for piece in re.split(r"\s(?:&&|;)\s", code.replace("\\|", "|")):
            try:
                argv = shlex.split(piece)
            except ValueError:  # an unmatched quote: still a command to check, word by word
                argv = piece.split()
            if argv[:1] == ["python3"]:
                argv = ["python", *argv[1:]]
            while argv and ENV_ASSIGNMENT.fullmatch(argv[0]):
                argv = argv[1:]
            if argv[:1] == ["torchrun"] and "-m" in argv:  # torchrun [its options] -m vidgen ...
                argv = ["python", *argv[argv.index("-m"):]]
            if argv[:2] == ["python", "-m"] and len(argv) > 2 and re.match(r"(vidgen|benchmarks)\b", argv[2]) \
                    or argv[:1] == ["python"] and len(argv) > 1 and argv[1].endswith(".py") \
                    or argv[:1] == ["vidgen"] and len(argv) > 1 and re.fullmatch(r"[a-z][a-z-]*|<[^>]*>", argv[1]):
                out.append((number, argv, block))
    return out


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})


def resolve(argv: list[str]) -> tuple[argparse.ArgumentParser | None, list[str], str | None]:
    """The parser a command line reaches, the arguments left for it, or what is wrong with the command itself."""
    if argv[0] == "python" and argv[1].endswith(".py"):
        if argv[1] == "app.py":
            from vidgen.app.settings import build_parser

            return build_parser(), argv[2:], None
        module = argv[1].removesuffix(".py").replace("/", ".")
        return None, [], f"run a module as `python -m {module}` (a path cannot import vidgen unless it is installed)"
    module, rest = ("vidgen", argv[1:]) if argv[0] == "vidgen" else (argv[2], argv[3:])
    if module == "vidgen":
        from vidgen.cli.main import build_parser

        parser = build_parser()
        if not rest or PLACEHOLDER.fullmatch(rest[0]):
            return None, [], None  # `python -m vidgen <subcommand>`: the command in general
        sub = subparsers(parser)
        if rest[0] not in sub:
            return None, [], f"no subcommand {rest[0]!r} (known: {', '.join(sub)})"
        return sub[rest[0]], rest[1:], None
    try:
        build = importlib.import_module(module).build_parser
    except ModuleNotFoundError:
        return None, [], f"no module {module}"
    except AttributeError:
        return None, [], f"{module} has no build_parser() to check its flags against"
    return build(), rest, None


def check_value(action: argparse.Action, value: str) -> str | None:
    for alternative in value.strip("[]").split("|"):  # `--sampler dpm++2m|ddim|ddpm`: each must be accepted
        if PLACEHOLDER.fullmatch(alternative):
            continue
        if action.choices is not None and alternative not in action.choices:
            return f"{action.option_strings[0]} {alternative}: not one of {', '.join(map(str, action.choices))}"
        if action.choices is None and callable(action.type):
            try:
                action.type(alternative)
            except (ValueError, TypeError, argparse.ArgumentTypeError) as e:
                return f"{action.option_strings[0]} {alternative}: {e}"
    return None


def problems(argv: list[str], complete: bool) -> list[str]:
    """What keeps a command line from running as written ([] if nothing). `complete`: it must also give
    every required option (a code block's line; an inline mention may name only the flags it is about)."""
    parser, args, wrong = resolve(argv)
    if wrong or parser is None:
        return [wrong] if wrong else []
    options, found, given, i = parser._option_string_actions, [], set(), 0
    while i < len(args):
        token = args[i].strip("[]")
        i += 1
        if not token or PLACEHOLDER.fullmatch(token):
            continue
        if not token.startswith("-"):
            found.append(f"unexpected argument {token!r}")
            continue
        name, has_value, value = token.partition("=")
        action = options.get(name)
        if action is None:
            close = [o for o in options if o.startswith(name)]
            found.append(f"no flag {name}" + (f" (only an abbreviation of {', '.join(close)})" if close else ""))
            while not has_value and i < len(args) and not args[i].lstrip("[").startswith("-"):
                i += 1  # its value
            continue
        given.add(action.dest)
        if action.nargs == 0:
            if has_value:
                found.append(f"{name} takes no value")
            continue
        values = [value] if has_value else []
        while not has_value and i < len(args) and not args[i].lstrip("[").startswith("-"):
            values.append(args[i])
            i += 1
            if action.nargs not in ("+", "*"):
                break
        if not values:
            found.append(f"{name} needs a value")
        found += [p for p in (check_value(action, v) for v in values) if p]
    if complete and not {"...", "…"} & set(args):
        found += [f"{a.option_strings[0]} is required" for a in parser._actions if a.required and a.dest not in given]
    return found


def all_commands():
    return [(path, number, argv, block) for path in DOCS for number, argv, block in commands(path.read_text())]


def test_every_documented_command_runs_as_written():
    found = all_commands()
    assert len(found) > 100, f"only {len(found)} commands found in the docs: is the extraction broken?"
    wrong = [f"{path.relative_to(ROOT)}:{number}: {' '.join(argv)}\n    {p}"
             for path, number, argv, block in found for p in problems(argv, complete=block)]
    assert not wrong, "commands in the docs that do not run as written:\n" + "\n".join(wrong)


def test_every_subcommand_and_benchmark_is_documented_somewhere():
    """The other way round: a subcommand no doc shows is one a reader cannot find."""
    from vidgen.cli.main import build_parser

    lines = [argv[1:] if argv[0] == "vidgen" else argv[3:] for _, _, argv, _ in all_commands()
             if argv[:1] == ["vidgen"] or argv[1:3] == ["-m", "vidgen"]]
    shown = {rest[0] for rest in lines if rest}
    assert set(subparsers(build_parser())) - shown == set()
    benchmarks = {f"benchmarks.{f.stem}" for f in (ROOT / "benchmarks").glob("*.py") if f.stem != "__init__"}
    assert benchmarks - {argv[2] for _, _, argv, _ in all_commands() if argv[1:2] == ["-m"]} == set()


@pytest.mark.parametrize("line, problem", [
    ("python -m benchmarks.generation --checkpoint release", "only an abbreviation of --checkpoints"),
    ("python -m vidgen sample --prompt HI --out a.gif --sampler euler-x", "--sampler euler-x: not one of"),
    ("python -m vidgen sample --prompt HI --out a.gif --sampler ddim|dpm++9", "--sampler dpm++9"),
    ("python -m vidgen sample --prompt HI --out a.gif --steps ten", "--steps ten"),
    ("python -m vidgen paint --prompt HI", "no subcommand 'paint'"),
    ("python -m benchmarks.nothing_here --n 3", "no module benchmarks.nothing_here"),
    ("python benchmarks/app_latency.py --steps 2", "python -m benchmarks.app_latency"),
    ("python app.py --scroll-checkpoint runs/a --ports 7860", "no flag --ports"),
    ("    python -m vidgen sample --prompt HI", "--out is required"),
    ("    OMP_NUM_THREADS=1 python -m vidgen train --preset small --out r --lr-decay 5", "no flag --lr-decay"),
    ("`torchrun --nproc-per-node 2 -m vidgen train --preset small --out r --resumee`", "no flag --resumee"),
    ("`python -m benchmarks.few_step --models\nteacher=release --only-timings`", "no flag --only-timings"),
])
def test_the_check_refuses_a_broken_command(line, problem):
    """The check itself can fail: each of these lines, in a doc, would be reported."""
    text = line if line.startswith(("    ", "`")) else f"`{line}`"
    (number, argv, block), = commands(text)
    assert any(problem in p for p in problems(argv, complete=block)), problems(argv, complete=block)


def test_a_placeholder_or_an_optional_flag_is_accepted():
    text = ("    python -m vidgen train --preset small --out runs/x [--max-steps N] [--device cpu|cuda]\n"
            "`python -m vidgen eval --checkpoint NAME --split val\\|heldout`, `python -m vidgen <subcommand>`")
    assert [problems(argv, complete=block) for _, argv, block in commands(text)] == [[], [], []]


def test_every_table_that_quotes_a_report_is_the_report_rendered():
    """`python -m vidgen.evaluation.doc_tables --write` rewrites them; here the committed text must equal that."""
    from vidgen.evaluation import doc_tables

    assert doc_tables.stale() == []
    shown = {m["name"] for path in doc_tables.DOCS for m in doc_tables.MARKER.finditer(path.read_text())}
    assert shown == set(doc_tables.TABLES), "a table writer no doc uses, or a marker no writer fills"


@pytest.mark.parametrize("report, table", [
    ("few_step.json", "few_step"), ("few_step_large.json", "few_step_large"), ("few_step_timing.json", "default_model"),
    ("app_latency_2step.json", "app_latency"), ("world_blog.json", "world_models"), ("world_blog.json", "world_variety"),
    ("shipped_models.json", "scroll_models"), ("soak.json", "soak_load"), ("long.json", "long_methods"),
    ("long.json", "long_shipped"), ("long_cost.json", "long_cost"), ("motion_kpis.json", "motion_kpis"),
    ("long_temporal.json", "long_temporal"), ("long_drawn.json", "long_pen"), ("browser.json", "browser"), ("fidelity_latent.json", "fidelity"),
    ("vae_vae-causal.json", "vae_compare"),
])
def test_a_changed_report_makes_its_table_stale(monkeypatch, report, table):
    """The check can fail: one figure changed in a report, and the table quoting it no longer matches."""
    import json

    from vidgen.evaluation import doc_tables

    def changed(name):
        data = json.loads((doc_tables.REPORTS / name).read_text())
        if name == report and name.startswith("world_") and table == "world_variety":
            data["variety"]["tv_direction_generated_vs_world"] += 0.01
        elif name == report and name.startswith("world_"):
            data["follow"]["long"]["psnr_db"] += 1
        elif name == report and name == "soak.json":
            data["load"]["unexpected"] += 1
        elif name == report and name == "long.json" and table == "long_methods":
            next(iter(next(iter(data["methods"].values())).values()))["seam_ratio"] += 1
        elif name == report and name == "long.json" and table == "long_shipped":
            data["shipped"]["validation"]["64"]["drift_db"] += 1
        elif name == report and name == "long_cost.json":
            data["cost"]["by_frames"]["128"]["seconds"] *= 2
        elif name == report and name == "long_drawn.json":
            data["shipped"]["validation"]["64"]["psnr"] += 1
        elif name == report and name == "long_temporal.json":
            data["shipped"]["held-out"]["128"]["nearest_render"] -= 0.25
        elif name == report and name == "browser.json":
            data["equality"]["max_abs_pixel"] += 1
        elif name == report and name == "motion_kpis.json":
            next(iter(data["models"].values()))["sets"]["val-16"]["generated"]["flicker"] += 0.1
        elif name == report and name.startswith("fidelity_"):
            data["one_step_db"]["200"] += 1
        elif name == report and name.startswith("vae_"):
            data["splits"]["long"]["flicker"] += 0.01
        elif name == report and name == "shipped_models.json":
            data["models"]["blog"]["samplings"]["default"]["splits"]["val"]["ssim"] += 0.01
        elif name == report:
            first = data["rows"][0] if "rows" in data else next(iter(data.values()))
            if first.get("splits"):
                first["splits"]["val"]["psnr_db"] += 1
            else:
                first["seconds" if "seconds" in first else "total_s"] *= 2
        return data

    monkeypatch.setattr(doc_tables, "load", changed)
    assert any(s.endswith(f": {table}") for s in doc_tables.stale())
