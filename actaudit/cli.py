"""The `actaudit` command line (docs/README.md): exit 0 success, 1 failures, 2 bad usage.

Bad usage is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from . import catalog
from .catalog import Activation, Kind, Param


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_float(text: str) -> float:
    """A float64 literal: decimal, hex float (0x1.8p-3), inf, -inf or nan. A number past
    float64's range (1e999) or nonzero below half its smallest subnormal (1e-400) is not
    one: it would silently become inf or 0."""
    t = text.strip()
    past = (f"{text!r} is past float64's range (its largest finite number is "
            "1.7976931348623157e+308); write inf for infinity")
    try:
        value = float.fromhex(t) if "0x" in t.lower() else float(t)
    except OverflowError:  # a hex float past the range
        raise UsageError(past) from None
    except ValueError:
        raise UsageError(f"not a float64 literal: {text!r}") from None
    if math.isinf(value) and t.lower().lstrip("+-") not in ("inf", "infinity"):
        raise UsageError(past)
    if value == 0 and _nonzero(t):
        raise UsageError(f"{text!r} is below half of float64's smallest subnormal "
                         "(5e-324): it would round to 0")
    return value


def _nonzero(t: str) -> bool:
    """Whether a literal that parsed as 0.0 writes a nonzero number."""
    from decimal import Decimal, InvalidOperation

    if "0x" in t.lower():
        mantissa = t.lower().split("0x", 1)[1].split("p", 1)[0]
        return any(c not in "0." for c in mantissa)
    try:
        return Decimal(t) != 0
    except InvalidOperation:
        return False


def parse_param(act: Activation, item: str) -> tuple[str, Any]:
    """``K=V`` typed by the catalog's declaration of parameter K."""
    name, sep, raw = item.partition("=")
    if not sep:
        raise UsageError(f"--param takes K=V, got {item!r}")
    spec = {p.name: p for p in act.params}.get(name)
    if spec is None:
        known = ", ".join(p.name for p in act.params) or "none"
        raise UsageError(f"{act.name} has no parameter {name!r} (parameters: {known})")
    return name, _typed(spec, raw)


def _bool(raw: str) -> bool:
    if raw.lower() not in ("true", "false"):
        raise UsageError(f"not a boolean (true/false): {raw!r}")
    return raw.lower() == "true"


def _typed(spec: Param, raw: str) -> Any:
    kind = spec.kind
    if raw.lower() == "none" and (spec.default is None and not spec.required):
        return None
    try:
        if kind == "bool":
            return _bool(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            value = parse_float(raw)
            if not math.isfinite(value):
                raise UsageError(f"{spec.name} must be finite, got {raw!r}")
            return value
        if kind == "mask":
            return tuple(_bool(v) for v in raw.split(","))
        if kind == "floats":
            return tuple(parse_float(v) for v in raw.split(","))
    except ValueError:
        raise UsageError(f"malformed value for {spec.name}: {raw!r}") from None
    return raw


def _list(args: argparse.Namespace) -> int:
    """Each activation as a short block: its name, kind, signature and source on the first
    line, then its variants and the implementations installed that provide it, wrapped to
    the terminal's width."""
    import shutil
    import textwrap

    from . import impl
    from .oracles.tables import cache_dir

    width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    providers = impl.providers(cache_dir(args.cache_dir))
    for act in catalog.CATALOG.values():
        alias = f" (= {act.same_as})" if act.same_as else ""
        variants = "; ".join(catalog.variant_id(v) or "(defaults)" for v in act.variants())
        by = ", ".join(name for name, names in providers.items() if act.name in names)
        print(textwrap.fill(f"{act.name}{alias}  {act.kind.value}  {act.signature}  "
                            f"[{act.source}]", width, subsequent_indent=" " * 8))
        for label, text in (("variants", variants), ("provided by", by or "-")):
            print(textwrap.fill(text, width, initial_indent=f"    {label}: ",
                                subsequent_indent=" " * 8, break_on_hyphens=False))
    return 0


def _oracle(args: argparse.Namespace) -> int:
    from . import oracles  # mpmath and flint load only when needed

    try:
        act = catalog.get(args.name)
    except KeyError as e:
        raise UsageError(e.args[0]) from None
    params = dict(parse_param(act, p) for p in args.param)
    for p in act.params:
        if p.required and p.name not in params:
            raise UsageError(f"{act.name} needs --param {p.name}=... ({p.doc or p.kind})")
    if act.kind is Kind.ELEMENTWISE:
        if "," in args.x:
            raise UsageError(f"{act.name} is elementwise: give one number, got {args.x!r}")
        x: Any = parse_float(args.x)
    else:
        x = [parse_float(v) for v in args.x.split(",")]
        if act.kind is Kind.INDEX and not all(v == int(v) for v in x if math.isfinite(v)):
            raise UsageError(f"{act.name} takes integer indices, got {args.x!r}")
    order = 2 if args.second else int(args.grad)
    along = None
    if args.along is not None:
        if order != 2 or act.kind is Kind.ELEMENTWISE:
            raise UsageError("--along is the direction of a vector activation's --second")
        along = [parse_float(v) for v in args.along.split(",")]
        if len(along) != len(x):
            raise UsageError(f"--along has {len(along)} entries, X {len(x)}")
    if order == 2 and act.kind is Kind.INDEX:
        raise UsageError(f"{act.name} has no derivative (its input is integer indices)")
    try:
        exact = oracles.evaluate(act, x, params, order=order, along=along)
        value = oracles.digits(act, x, params, order=order, along=along)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except oracles.OracleError as e:  # ours, not the user's: one line, status 1
        print(f"actaudit: oracle error: {e}", file=sys.stderr)
        return 1
    out = {"value": value}
    for fmt in oracles.FORMATS:
        out[fmt] = _map(lambda e, f=fmt: oracles.formats.float_text(e.rounded[f]), exact)
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>9}  {v}")
    return 0


def _map(fn: Any, tree: Any) -> Any:
    return [_map(fn, t) for t in tree] if isinstance(tree, list) else fn(tree)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="actaudit", description="Audit activation functions against a certified "
        "oracle: exit 0 success, 1 failures or errors found, 2 bad usage.",
        epilog="The commands, SPEC forms, result tables and exit codes are documented in "
        "docs/README.md of the actaudit repository; `actaudit COMMAND --help` for each.")
    # `bench-compare` is `bench compare`'s own parser: no entry of its own in the list
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="{list,oracle,tables,audit,bench,report,diff}")
    p = sub.add_parser("list", help="every activation in the catalog, its parameters and "
                       "variants, and the implementations installed that provide each")
    p.add_argument("--cache-dir", help="where what the implementations provide is kept")
    p.set_defaults(run=_list)
    p = sub.add_parser("oracle", help="the exact value of an activation at X")
    p.add_argument("name")
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--grad", action="store_true", help="the derivative instead of the value")
    p.add_argument("--second", action="store_true",
                   help="the second derivative instead: along an axis, T[i][j][k] = "
                   "d²f_i/dx_j dx_k, or with --along V the Jacobian's derivative along V")
    p.add_argument("--along", metavar="V", help="with --second, a vector activation's "
                   "direction (comma-separated): row i is output i's Hessian times V")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("x", metavar="X", help="float64 literal(s); vectors comma-separated")
    p.set_defaults(run=_oracle)
    p = sub.add_parser("tables", help="build (or load) the cached oracle tables")
    p.add_argument("--only", default="", help="comma-separated activations")
    p.add_argument("--dtypes", default="float16,bfloat16")
    p.add_argument("--cache-dir")
    p.add_argument("--workers", type=_count, default=0, help="processes (0: one per core)")
    p.add_argument("--scheduler", help="a dask.distributed scheduler address")
    p.add_argument("--second", action="store_true",
                   help="the second derivative's tables too (for --checks gradient)")
    p.set_defaults(run=_tables)
    p = sub.add_parser("audit", help="every check on each implementation: summary.csv")
    p.add_argument("--impl", action="append", required=True, metavar="SPEC",
                   help="reference, jax.nn, flax.nnx, flax.linen, scipy, torch, an installed "
                   "plug-in's name, pkg.mod[:attr], file.py[:attr]")
    p.add_argument("--only", default="", help="comma-separated activations")
    p.add_argument("--dtypes", default="float16,bfloat16,float32,float64")
    p.add_argument("--checks", default="", help="comma-separated categories, or checks by "
                   "name (gradient:second); default: all")
    p.add_argument("--tolerances", metavar="FILE", help="TOML tolerance overrides")
    p.add_argument("--cache-dir")
    p.add_argument("--out", default="reports/out/audit",
                   help="where summary.csv goes (a folder; an interrupted audit resumes from it)")
    p.add_argument("--force", action="store_true",
                   help="write into --out even where it holds files actaudit did not write")
    p.add_argument("--strict-subnormals", action="store_true",
                   help="flushing subnormals to zero fails instead of warning")
    p.add_argument("--strict-conventions", action="store_true",
                   help="a broken convention (the sign of a zero, a subgradient at a kink, an "
                   "input class refused) fails instead of warning")
    p.add_argument("--workers", type=_count, default=0,
                   help="oracle processes, and Dask workers for --exhaustive (0: one per core)")
    p.add_argument("--exhaustive", metavar="DTYPE", choices=("float32",),
                   help="float32: every one of its 2**32 inputs, values and derivatives, in "
                   "place of the sample (on Dask; resumable from --out)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run --exhaustive on the dask.distributed cluster at ADDRESS (default: "
                   "$DASK_SCHEDULER_ADDRESS, else a LocalCluster on this machine)")
    p.add_argument("--search", metavar="PROFILE", default="ci",
                   help="hypothesis looking for each case's worst input: ci (the default: "
                   "the same examples every run, bounded), dev (new ones every run), "
                   "thorough (many more, rows to 256,000 entries), or off")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="a call into an implementation running longer is stopped: error rows "
                   "(each implementation runs in a worker process of its own)")
    p.add_argument("--baseline", metavar="FILE", help="judge against a baseline written by "
                   "--save-baseline: what got worse fails, what is as before warns as known, "
                   "what got better is said")
    p.add_argument("--save-baseline", metavar="FILE", help="write this audit's rows as a "
                   "baseline (JSON, to review and commit); replaces only a baseline")
    p.add_argument("--junit", metavar="FILE", help="also write the rows as JUnit XML")
    p.add_argument("--exit-zero", action="store_true",
                   help="exit 0 even where checks fail or error (bad usage still exits 2)")
    p.set_defaults(run=_audit)
    p = sub.add_parser("bench", help="timings per device into pandas tables "
                       "(`actaudit bench compare A B`: the ratios between two saved runs)")
    p.add_argument("--impl", action="append", required=True, metavar="SPEC",
                   help="implementations to time (jax.nn is always timed: ratios are to it)")
    p.add_argument("--only", default="", help="comma-separated activations")
    p.add_argument("--dtypes", default="", help="comma-separated (default: the profile's)")
    p.add_argument("--sizes", default="",
                   help="comma-separated element counts: 4096, 2^20 (default: the profile's)")
    p.add_argument("--modes", default="fwd,fwd+bwd", help="fwd, fwd+bwd")
    p.add_argument("--profile", default="short", choices=("short", "full"),
                   help="short: 2^10, 2^16, 2^20 elements, float32 and bfloat16, quick "
                   "timings; full: 2^10 to 2^24, every dtype, pytest-benchmark's defaults")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="a case whose compilation and first call take longer is an error")
    p.add_argument("--out", default="reports/out/bench", help="one folder per device in it")
    p.add_argument("--force", action="store_true",
                   help="write into --out even where it holds files actaudit did not write")
    p.add_argument("--exit-zero", action="store_true",
                   help="exit 0 even where a case errors (bad usage still exits 2)")
    p.set_defaults(run=_bench)
    p = sub.add_parser("report", help="HTML and Markdown reports with plots, from audit and "
                       "bench runs")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR",
                   help="folders written by `actaudit audit` or `actaudit bench` (or holding "
                   "such folders, as reports/out does)")
    p.add_argument("--out", default="reports/out/report",
                   help="the report's folder, replaced whole: refused where it holds "
                   "anything an actaudit report did not write")
    p.add_argument("--force", action="store_true",
                   help="replace --out even where it holds files actaudit did not write")
    p.set_defaults(run=_report)
    p = sub.add_parser("diff", help="what changed between two audits: a table, and an HTML "
                       "page")
    p.add_argument("a", metavar="RUN_A", help="the earlier audit: a folder `actaudit audit` "
                   "wrote, or a baseline file")
    p.add_argument("b", metavar="RUN_B", help="the later one")
    p.add_argument("--out", metavar="DIR", help="write the page (index.html) and diff.csv "
                   "into DIR")
    p.add_argument("--force", action="store_true",
                   help="replace --out even where it holds files actaudit did not write")
    p.set_defaults(run=_diff)
    p = sub.add_parser("bench-compare", prog="actaudit bench compare",
                       description="the ratios between two saved bench runs")
    p.add_argument("a", metavar="A", help="a saved run: a folder or a bench.parquet")
    p.add_argument("b", metavar="B")
    p.add_argument("--out", metavar="FILE", help="also write the comparison as CSV (a file "
                   "that is not an earlier comparison is refused)")
    p.set_defaults(run=_bench_compare)
    return parser


def _cases(n: int) -> str:
    return f"{n} case" if n == 1 else f"{n} cases"


def _count(text: str) -> int:
    """A number of processes: 0 (one per core) or more."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"a number of processes, 0 or more: {text!r}")
    return n


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _dtypes(text: str) -> list[str]:
    found = _split(text)
    if not found:
        raise UsageError("--dtypes names no dtype; known: float16, bfloat16, float32, float64")
    return found


def _cache_dir(given: str | None) -> None:
    """The oracle cache, checked to be a folder that can be written before work starts."""
    from ._files import writable
    from .oracles.tables import cache_dir

    writable(cache_dir(given), "--cache-dir")


def _audit(args: argparse.Namespace) -> int:
    """A thin layer over `actaudit.audit` (`_api`): the settings and every output path
    checked first, then the run (kept in a journal, resumable), its files, and the exit
    status."""
    from . import _api, checks
    from ._files import claim
    from .checks import _baseline, _junit
    from .checks._exhaustive import FOLDER as EXHAUSTIVE
    from .checks._journal import FOLDER

    try:  # every setting, SPEC and path is checked before any work starts
        plan = _api.plan(args.impl, _split(args.only) or None, _dtypes(args.dtypes),
                         _split(args.checks) or None, args.tolerances,
                         strict_subnormals=args.strict_subnormals,
                         strict_conventions=args.strict_conventions, timeout=args.timeout,
                         exhaustive=args.exhaustive, search=args.search)
        if args.scheduler and not args.exhaustive:
            raise ValueError("--scheduler runs --exhaustive on a cluster: give --exhaustive "
                             "float32 too")
        _cache_dir(args.cache_dir)
        baseline = _baseline.load(args.baseline) if args.baseline else None
        save_to = _baseline.claim(args.save_baseline) if args.save_baseline else None
        junit = _junit.claim(args.junit) if args.junit else None
        out = claim(args.out, checks.KIND, names=[*checks.FILES.values(), _api.JSON_SUMMARY],
                    force=args.force)
    except (KeyError, ValueError) as e:
        raise UsageError(e.args[0]) from None
    journal = plan.journal(out / FOLDER)
    try:
        tables = plan.run(cache_dir=args.cache_dir, workers=args.workers or None,
                          progress=not args.quiet, journal=journal,
                          scheduler=args.scheduler, record=out / EXHAUSTIVE)
    except KeyboardInterrupt:
        print(f"actaudit: interrupted; {_cases(journal.finished())} finished kept in "
              f"{journal.root}: the same command resumes from them", file=sys.stderr)
        return 130
    result = _api.judged(tables, baseline)
    result.write(out)
    journal.close()
    print(result)
    if result.comparison is not None:
        _print_regressions(result.regressions)
    print(f"\nsummary: {out / checks.FILES['summary']}  "
          f"details: {out / checks.FILES['details']}")
    if junit is not None:
        _junit.write(junit, result.frame)
        print(f"junit: {junit}")
    if save_to is not None:
        result.save_baseline(save_to)
        print(f"baseline: {save_to} ({len(result.unjudged)} rows; review and commit it)")
    return 0 if args.exit_zero else result.status


def _print_regressions(rows: Any, most: int = 30) -> None:
    if rows.empty:
        return
    print(f"\nregressions since the baseline ({len(rows)}):")
    for _, r in rows.head(most).iterrows():
        variant = f" ({r['variant']})" if r["variant"] else ""
        print(f"  {r['impl']} {r['activation']}{variant} {r['dtype']} {r['check']}: "
              f"{r['why']}")
    if len(rows) > most:
        print(f"  ... and {len(rows) - most} more (summary.csv has every one)")


def _diff(args: argparse.Namespace) -> int:
    from . import reports

    try:
        made = reports.diff(args.a, args.b, args.out, force=args.force)
    except (reports.RunError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(made.text)
    if made.page is not None:
        print(f"\ndiff: {made.page.resolve()}")
    return 0


def parse_size(text: str) -> int:
    """An element count: 4096, 2^12 or 2**12."""
    t = text.strip().replace("**", "^")
    try:
        base, _, exp = t.partition("^")
        n = int(base) ** int(exp) if exp else int(base)
    except ValueError:
        raise UsageError(f"not a size (an integer, or 2^k): {text!r}") from None
    return n


def _bench(args: argparse.Namespace) -> int:
    from . import bench

    sizes = [parse_size(s) for s in _split(args.sizes)]
    try:  # every choice, SPEC and path is checked before any work starts
        table, folders = bench.run(
            args.impl, args.out, only=_split(args.only) or None,
            dtypes=_split(args.dtypes) or None, sizes=sizes or None,
            modes=_split(args.modes), profile=args.profile, timeout=args.timeout,
            force=args.force)
    except (KeyError, ValueError, RuntimeError) as e:
        raise UsageError(e.args[0]) from None
    for platform, folder in folders.items():
        print()
        print(bench.summary(table[table["platform"] == platform]))
        print(f"{platform}: {folder}")
    return 0 if args.exit_zero else int(table["status"].eq("error").any())


def _bench_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import bench
    from ._files import atomic

    try:
        if args.out:
            bench.claim_comparison(Path(args.out))
        diff = bench.compare(bench.load(args.a), bench.load(args.b))
    except (ValueError, OSError) as e:
        raise UsageError(str(e).splitlines()[0]) from None
    print(f"median of B over median of A (below 1: B is faster); A = {args.a}, B = {args.b}")
    print("ratio_low..ratio_high: the ratio within each run's spread (its quartiles); "
          "where it holds 1, the difference is within noise")
    print(diff.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\n" + bench.comparison_summary(diff))
    if args.out:
        atomic(Path(args.out), lambda p: diff.to_csv(p, index=False))
    return 0


def _report(args: argparse.Namespace) -> int:
    from . import reports

    try:
        made = reports.build(args.runs, args.out, force=args.force)
    except (reports.RunError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(f"report: {made.index.resolve()} ({made.plots} plots)")
    print(f"summary: {made.markdown}, {made.summary}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    from .oracles import tables

    names = [n for n in args.only.split(",") if n] or None
    dtypes = _dtypes(args.dtypes)
    try:
        _cache_dir(args.cache_dir)
        summary = tables.build_tables(
            names, dtypes, cache_dir=args.cache_dir, workers=args.workers or None,
            scheduler=args.scheduler, second=args.second)
    except (KeyError, ValueError) as e:
        raise UsageError(e.args[0]) from None
    print(summary.to_string(index=False))
    return 0


def _stop(signum: int, _frame: Any) -> None:
    """SIGTERM (a CI job's time limit, `kill`) ends a run as Ctrl-C does: workers stopped,
    finished cases kept."""
    raise KeyboardInterrupt(f"signal {signum}")


def _one_line_warnings() -> None:
    """actaudit's own warnings (a damaged cache table rebuilt) as one line on stderr."""
    shown = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        if category.__module__.startswith("actaudit."):
            print(f"actaudit: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    _one_line_warnings()
    if args_list[:2] == ["bench", "compare"]:  # `bench compare A B`, a command of its own
        args_list = ["bench-compare", *args_list[2:]]
    # `oracle NAME -- -1.5`: argparse reads what follows `--` as positionals already.
    try:
        args = build_parser().parse_args(args_list)
        return int(args.run(args))
    except UsageError as e:
        print(f"actaudit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("actaudit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `actaudit list | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
