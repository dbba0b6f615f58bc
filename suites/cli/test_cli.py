"""The command line as a user runs it: output, exit status, one-line errors."""

import json
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import scipy.special as sp


def run(*args):
    """The installed command, run from a neutral directory (from the repository root the
    source folder actaudit/ would shadow the installed package)."""
    return subprocess.run([sys.executable, "-m", "actaudit.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=tempfile.gettempdir())


def test_list_shows_every_activation_and_its_variants(tmp_path):
    out = run("list", "--cache-dir", str(tmp_path))
    assert out.returncode == 0
    for text in ("softplus", "prelu", "beta_swish", "swish (= silu)", "alpha=0.5",
                 "approximate=False", "flax.nnx.PReLU"):
        assert text in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) <= 120  # no 300-column rows
    again = run("list", "--cache-dir", str(tmp_path))  # what each provides, from the cache
    assert again.stdout == out.stdout


def test_list_keeps_what_implementations_provide_and_imports_no_library_again(tmp_path):
    """Finding what every implementation provides imports torch, flax and the rest (most
    of `list`'s time); a second `list` takes it from the cache, importing none of them."""
    from actaudit import impl

    first = impl.providers(tmp_path)
    assert "reference" in first and "softplus" in first["jax.nn"]
    probe = ("import sys; from pathlib import Path; from actaudit import impl; "
             f"impl.providers(Path({str(tmp_path)!r})); "
             "print(sorted(m for m in ('torch', 'flax', 'scipy.special') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=tempfile.gettempdir())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_oracle_json_sigmoid_float16_tail():
    out = run("oracle", "sigmoid", "--json", "--", "-11.0859375")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["float16"] == repr(float(np.float16(sp.expit(-11.0859375))))
    assert got["float16"] == "1.531839370727539e-05"  # a float16 subnormal, not 0
    assert got["value"].startswith("1.53261072699819632785236063304547")  # mpmath, 40 digits
    assert got["value"].endswith("e-5")
    assert set(got) == {"value", "float16", "bfloat16", "float32", "float64"}


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (("oracle", "silu", "--json", "--", "-inf"), {"float16": "-0.0", "float64": "-0.0"}),
        (("oracle", "gelu", "--param", "approximate=false", "--json", "--", "-0x1.4cp+3"),
         {"float16": "-0.0", "float32": "-1.671476745736183e-24"}),
        (("oracle", "sigmoid", "--grad", "--json", "--", "30"),
         {"float32": "9.357622912219837e-14"}),
        (("oracle", "log1mexp", "--json", "--", "nan"), {"float64": "nan"}),
        (("oracle", "elu", "--param", "alpha=2", "--json", "--", "-inf"), {"bfloat16": "-2.0"}),
    ],
)
def test_oracle_values(args, want):
    out = run(*args)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert {k: got[k] for k in want} == want


def test_oracle_keeps_subnormal_literals_and_spelled_out_infinities():
    for x, want in (("1e-310", "1e-310"), ("-inf", "-inf"), ("0x1p-1074", "5e-324")):
        out = run("oracle", "identity", "--json", "--", x)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["float64"] == want


def test_oracle_on_a_vector():
    out = run("oracle", "softmax", "--json", "--", "1,2,3")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["float32"] == ["0.09003057330846786", "0.2447284758090973",
                                                 "0.6652409434318542"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("oracle", "nope", "--", "1"), "unknown activation 'nope'"),
        (("oracle", "elu", "--", "abc"), "not a float64 literal"),
        (("oracle", "elu", "--param", "beta=1", "--", "1"), "elu has no parameter 'beta'"),
        (("oracle", "gelu", "--param", "approximate=maybe", "--", "1"), "not a boolean"),
        (("oracle", "glu", "--", "1,2,3"), "even axis size"),
        (("oracle", "one_hot", "--grad", "--param", "num_classes=3", "--", "1"),
         "no derivative"),
        (("oracle", "sigmoid", "--", "1e999"), "past float64's range"),
        (("oracle", "sigmoid", "--", "-0x1p2000"), "past float64's range"),
        (("oracle", "sigmoid", "--", "1e-400"), "would round to 0"),
        (("oracle", "one_hot", "--param", "num_classes=-3", "--", "1"),
         "num_classes must be at least 1"),
        (("oracle", "one_hot", "--", "1"), "one_hot needs --param num_classes="),
        (("tables", "--workers", "-3"), "a number of processes, 0 or more"),
        (("tables", "--dtypes", ""), "--dtypes names no dtype"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(("args", "want"), [
    (["audit", "--impl", "no_such_module_xyz"], "cannot import"),
    (["audit", "--impl", "reference", "--only", "nope"], "unknown activation"),
    (["audit", "--impl", "reference", "--dtypes", "float8"], "unknown dtype"),
    (["audit", "--impl", "reference", "--checks", "speed"], "unknown check"),
    (["audit", "--impl", "reference", "--tolerances", "/no/such.toml"], "no such tolerance"),
    (["audit", "--impl", "reference", "--dtypes", ""], "--dtypes names no dtype"),
    (["audit", "--impl", "reference", "--dtypes", ","], "--dtypes names no dtype"),
    (["audit", "--impl", "reference", "--workers", "-3"], "a number of processes"),
    (["audit", "--impl", "reference", "--exhaustive", "float64"], "invalid choice"),
    (["audit", "--impl", "reference", "--exhaustive", "float32", "--dtypes", "float16"],
     "needs float32 among --dtypes"),
    (["audit", "--impl", "reference", "--scheduler", "tcp://127.0.0.1:1"],
     "give --exhaustive float32 too"),
    (["audit", "--impl", "reference", "--search", "fast"], "unknown search profile 'fast'"),
])
def test_audit_bad_usage_is_one_line_exit_2(args, want):
    out = run(*args)
    assert out.returncode == 2, out.stderr
    assert want in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_audit_writes_summary_and_exit_status(tmp_path, oracle_cache):
    import pandas as pd

    cache = str(oracle_cache)
    ok = run("audit", "--impl", "reference", "--only", "relu6", "--dtypes", "float16",
             "--cache-dir", cache, "--out", str(tmp_path / "ok"), "--quiet")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    summary = pd.read_csv(tmp_path / "ok" / "summary.csv", keep_default_na=False)
    assert list(summary.columns) == ["impl", "activation", "variant", "dtype", "check", "status",
                                     "max_ulp", "worst_input", "expected", "got", "detail"]
    assert (tmp_path / "ok" / "results.parquet").is_file()
    plugin = tmp_path / "p.py"
    plugin.write_text("import jax.numpy as jnp\n"
                      "def relu6(x):\n    return jnp.clip(x, 0, 5)\n")  # a constant wrong
    bad = run("audit", "--impl", str(plugin), "--only", "relu6", "--dtypes", "float16",
              "--cache-dir", cache, "--out", str(tmp_path / "bad"), "--quiet")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "accuracy" in bad.stdout and "fail" in bad.stdout


def test_help_lists_the_commands_and_points_to_the_repository_docs():
    out = run("--help")
    assert out.returncode == 0
    assert "==SUPPRESS==" not in out.stdout and "INTERFACE" not in out.stdout
    assert "docs/README.md" in out.stdout
    for command in ("list", "oracle", "tables", "audit", "bench", "report"):
        assert command in out.stdout
    compare = run("bench", "compare", "--help")
    assert compare.returncode == 0 and "actaudit bench compare" in compare.stdout


def test_the_docs_describe_every_check_severity_and_command():
    """docs/ is the users' contract: it cannot fall behind the registry of checks."""
    from pathlib import Path

    from actaudit.checks import CATEGORIES, CHECKS, COLUMNS, Severity
    from actaudit.checks._registry import LENIENT

    docs = Path(__file__).resolve().parents[2] / "docs"
    results = (docs / "results.md").read_text()
    contract = (docs / "README.md").read_text()
    for c in CHECKS:
        assert f"| `{c.name}` | `{c.severity.key}` |" in results, c.name
    for s in Severity:
        assert f"| `{s.key}` |" in results, s
    for flag in filter(None, LENIENT.values()):
        assert flag in results and flag in contract
    assert ", ".join(COLUMNS) in results
    for category in CATEGORIES:
        assert f"`{category}`" in results
    for command in ("list", "oracle", "tables", "audit", "bench", "report"):
        assert f"`actaudit {command}" in contract
    readme = (docs.parent / "README.md").read_text()
    assert "docs/README.md" in readme and "docs/results.md" in readme
