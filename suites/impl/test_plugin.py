"""The pytest plugin (`actaudit.pytest_plugin`), as a kernel author uses it in a project of
their own: a folder outside this repository with a package of kernels, pytest run there
with ``--actaudit-impl`` and ``[tool.actaudit]``. This repository's own audit of the
reference (tox's ``reference`` environment: ``pytest suites/impl -m actaudit
--actaudit-impl reference``) runs through the same plugin."""

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

KERNELS = '''
import jax.numpy as jnp


def relu(x):
    return jnp.maximum(x, 0)


def softplus(x):  # overflows to inf from x = 89 in bfloat16
    return jnp.log(1 + jnp.exp(x))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    (root / "kern").mkdir()
    (root / "kern" / "__init__.py").write_text(KERNELS)
    # the project's own tests, with a conftest.py of their own below the rootdir (pytest
    # then calls the items' hooks through a subset of its plugins: they must hash)
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text("import pytest\n")
    (root / "tests" / "test_own.py").write_text("def test_own():\n    assert True\n")
    (root / "pyproject.toml").write_text(textwrap.dedent('''
        [tool.actaudit]
        impl = "kern"
        only = ["relu", "softplus"]
        dtypes = "bfloat16"
        checks = "accuracy,special"
    '''))
    return root


def pytest_in(root, *args):
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:randomly", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_checks_are_items_with_readable_ids(project):
    done = pytest_in(project, "--co", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [ln for ln in done.stdout.splitlines() if ln.startswith("actaudit::")]
    assert ids == [f"actaudit::kern-{a}-bfloat16-{c}" for a in ("relu", "softplus")
                   for c in ("accuracy", "special")]
    assert "5 tests collected" in done.stdout  # and the project's own test
    # the command line overrides [tool.actaudit]
    more = pytest_in(project, "--co", "-q", "--actaudit-dtypes", "bfloat16,float16")
    assert sum(ln.startswith("actaudit::") for ln in more.stdout.splitlines()) == 8


def test_a_failing_check_explains_itself_and_the_others_pass(project):
    junit = project / "junit.xml"
    done = pytest_in(project, "-q", f"--junitxml={junit}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 4 passed" in done.stdout
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"test_own"} | {f"kern-{a}-bfloat16-{c}" for a in ("relu", "softplus")
                                         for c in ("accuracy", "special")}
    failed = cases["kern-softplus-bfloat16-accuracy"].find("failure")
    assert failed is not None
    text = failed.get("message", "") + (failed.text or "")
    assert "kern: softplus bfloat16 accuracy fail" in text and "got inf" in text
    assert "repro: actaudit oracle softplus -- " in text
    only = pytest_in(project, "-q", "-k", "relu", "-n", "2", "--dist", "loadgroup")
    assert only.returncode == 0 and "2 passed" in only.stdout, only.stdout


def test_against_a_baseline_only_what_got_worse_fails(project):
    done = subprocess.run([sys.executable, "-m", "actaudit.cli", "audit", "--impl", "kern",
                           "--only", "relu,softplus", "--dtypes", "bfloat16", "--checks",
                           "accuracy,special", "--out", "run", "--quiet", "--save-baseline",
                           "baseline.json"], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(project)}, timeout=600)
    assert done.returncode == 1, done.stderr  # softplus fails: the baseline holds it
    known = pytest_in(project, "-q", "--actaudit-baseline", "baseline.json")
    assert known.returncode == 0, known.stdout
    assert "actaudit: against the baseline" in known.stdout
    assert "0 regressed, 0 improved, 4 same" in known.stdout
    assert "kern-softplus-bfloat16-accuracy: known: as in the baseline" in known.stdout


def test_bad_settings_are_one_line_before_any_work(project):
    done = pytest_in(project, "-q", "--actaudit-only", "relux")
    assert done.returncode == 4
    assert "ERROR: actaudit: unknown activation 'relux'" in done.stderr
    assert "Traceback" not in done.stderr
