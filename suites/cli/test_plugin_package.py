"""A third-party plug-in, as its author would ship it: the example package under
examples/ is installed (pip, into a folder of its own), then found by `actaudit list` and
audited by its entry-point name, its faults found against the oracle."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from actaudit import catalog, oracles

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "actaudit-example-kernels"
NAME = "example-kernels"


def actaudit(*args, env, cwd):
    return subprocess.run([sys.executable, "-m", "actaudit.cli", *args], capture_output=True,
                          text=True, timeout=900, env=env, cwd=cwd)


def _setuptools_builds_wheels() -> bool:
    """setuptools 70.1 and later build wheels without the wheel package."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    major, minor = (int(p) for p in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example installed with pip into its own folder, put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site-packages")
    build = tmp_path_factory.mktemp("source")
    source = build / EXAMPLE.name
    shutil.copytree(EXAMPLE, source)  # the build writes into its source: keep examples/ clean
    args = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
            str(target), str(source)]
    if _setuptools_builds_wheels():
        args.insert(4, "--no-build-isolation")  # then the build needs nothing downloaded
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    path = os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}, tmp_path_factory.mktemp("work")


def test_the_installed_plugin_is_listed_as_a_provider(installed):
    env, cwd = installed
    done = actaudit("list", env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    by: dict[str, list[str]] = {}  # each activation's block: a line with its name, then
    field = None  # "    label: text" lines, wrapped onto lines indented by 8 at any width
    for line in done.stdout.splitlines():
        if not line.startswith(" "):
            name, field = line.split()[0], None
        elif not line.startswith(" " * 8):
            field = "provided by" if line.strip().startswith("provided by:") else None
            if field:
                by[name] = line.partition("provided by:")[2].replace(",", " ").split()
        elif field:
            by[name] += line.replace(",", " ").split()
    assert NAME in by["softplus"] and NAME in by["leaky_relu"]
    assert NAME not in by["gelu"]


def test_the_installed_plugin_is_audited_by_its_name(installed):
    env, cwd = installed
    done = actaudit("audit", "--impl", NAME, "--only", "softplus,sigmoid,relu,leaky_relu,gelu",
                    "--dtypes", "float32", "--out", "run", "--quiet", env=env, cwd=cwd)
    assert done.returncode == 1, done.stderr[-2000:]  # its faults are found
    summary = pd.read_csv(cwd / "run" / "summary.csv", keep_default_na=False)
    assert set(summary["impl"]) == {NAME}
    rows = summary.set_index(["activation", "variant", "check"])
    for name in ("softplus", "sigmoid"):
        bad = rows.loc[(name, "", "accuracy")]
        assert bad["status"] == "fail"
        truth = oracles.evaluate(catalog.get(name), float(bad["worst_input"]))
        assert float(bad["expected"]) == truth.rounded["float32"]
    for name in ("relu", "leaky_relu"):
        assert rows.loc[(name, "", "accuracy"), "status"] == "pass"
    assert (summary.loc[summary["activation"] == "gelu", "status"] == "skip").all()
