"""actaudit in a user's own repository, installed as a user installs it: a wheel is built
from this checkout and installed (not editable) into a fresh virtual environment, and a
project outside this repository, with a package of kernels and a test file, uses the
Python API, the pytest plugin and baselines there.

The fresh environment takes actaudit's dependencies (JAX, pandas, ...) from the one the
tests run in, through a .pth file, instead of downloading them again: what it tests is
the wheel (its modules, its console script, its pytest11 entry point), and that nothing
of the checkout is on the path.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import actaudit

REPO = Path(__file__).resolve().parents[2]

KERNELS = '''
"""A user's kernels: relu and sigmoid right, softplus naive (inf from x = 89)."""
import jax
import jax.numpy as jnp


def relu(x):
    return jnp.maximum(x, 0)


def sigmoid(x):
    return jax.nn.sigmoid(x)


def softplus(x):
    return jnp.log(1 + jnp.exp(x))
'''

TESTS = '''
import actaudit
import kernels


def test_relu_is_exact():
    actaudit.check(kernels.relu, "relu", dtype="bfloat16", max_ulp=0)


def test_sigmoid_within_4_ulp():
    actaudit.check(kernels.sigmoid, "sigmoid", dtype="float32", max_ulp=4)


def test_softplus_within_2_ulp():
    actaudit.check(kernels.softplus, "softplus", dtype="bfloat16", max_ulp=2)
'''

PASSING_TESTS = '''
import actaudit
import kernels


def test_relu_is_exact():
    actaudit.check(kernels.relu, "relu", dtype="bfloat16", max_ulp=0)
'''

PYPROJECT = '''
[tool.actaudit]
impl = "kernels"
only = ["relu", "sigmoid", "softplus"]
dtypes = ["float32"]
checks = "accuracy"
'''


def _sources(dest: Path) -> None:
    """The files git tracks or would (or, without git, the tree less what builds and runs leave),
    copied: the build writes into its source, and the checkout stays as it is."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], cwd=REPO, capture_output=True,
                                check=True).stdout.decode().split("\0")
        files = [f for f in listed if f and (REPO / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".tox", "build", "dist", "out", "__pycache__"}
        files = [str(p.relative_to(REPO)) for p in REPO.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(REPO).parts)]
    for f in files:
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, dest / f)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh virtual environment with actaudit installed from a wheel of this checkout:
    its python and its bin folder."""
    src = tmp_path_factory.mktemp("source")
    _sources(src)
    dist = tmp_path_factory.mktemp("dist")
    version = actaudit.__version__ if actaudit.__version__[0].isdigit() and \
        actaudit.__version__ != "0+unknown" else "0.0.0"
    env = {**os.environ, "SETUPTOOLS_SCM_PRETEND_VERSION": version}
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "-w", str(dist), str(src)], capture_output=True, text=True,
                           env=env, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("actaudit-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # the wheel first: with the dependencies on its path, pip would find the actaudit of
    # the environment the tests run in (the same version) and install nothing
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.stdout.strip()) / "dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    return python, venv / "bin"


def make_project(root: Path, tests: str, pyproject: str = PYPROJECT) -> Path:
    (root / "kernels").mkdir()
    (root / "kernels" / "__init__.py").write_text(KERNELS)
    (root / "tests").mkdir()
    (root / "tests" / "test_kernels.py").write_text(tests)
    (root / "pyproject.toml").write_text(pyproject)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory, fresh):
    return make_project(tmp_path_factory.mktemp("project"), TESTS)


def run(fresh, root, *args):
    bin_ = fresh[1]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=str(root), PATH=f"{bin_}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run([str(a) for a in args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=900)


def test_the_wheel_is_what_the_fresh_environment_imports(fresh, project):
    python, bin_ = fresh
    done = run(fresh, project, python, "-c", "import actaudit, actaudit.impl as i; "
               "print(actaudit.__file__); print(i.__file__)")
    assert done.returncode == 0, done.stderr
    for line in done.stdout.split():
        assert Path(line).is_relative_to(bin_.parent), line  # not the checkout's
    assert (bin_ / "actaudit").is_file()


def test_the_plugin_and_the_api_find_the_known_defects(fresh, project):
    python, _ = fresh
    done = run(fresh, project, python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    failed = sorted(ln.split()[1] for ln in done.stdout.splitlines()
                    if ln.startswith("FAILED "))
    assert failed == ["actaudit::kernels-softplus-float32-accuracy",
                      "actaudit::kernels-softplus-float32-accuracy:search",
                      "tests/test_kernels.py::test_softplus_within_2_ulp"], done.stdout[-3000:]
    assert "3 failed, 6 passed" in done.stdout, done.stdout[-3000:]


def test_a_baseline_passes_as_it_is_and_fails_what_got_worse(fresh, project):
    audit = ["actaudit", "audit", "--impl", "kernels", "--only", "relu,sigmoid,softplus",
             "--dtypes", "float32", "--checks", "accuracy", "--quiet"]
    first = run(fresh, project, *audit, "--out", "run1", "--save-baseline", "baseline.json")
    assert first.returncode == 1, first.stderr[-2000:]  # softplus fails: the baseline has it
    again = run(fresh, project, *audit, "--out", "run2", "--baseline", "baseline.json")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "against the baseline: 6 same" in again.stdout
    # sigmoid made less accurate: computed in float16
    worse = (project / "kernels" / "__init__.py").read_text().replace(
        "    return jax.nn.sigmoid(x)",
        "    return jax.nn.sigmoid(x.astype(jnp.float16)).astype(x.dtype)")
    (project / "kernels" / "__init__.py").write_text(worse)
    third = run(fresh, project, *audit, "--out", "run3", "--baseline", "baseline.json",
                "--junit", "junit.xml")
    assert third.returncode == 1, third.stdout[-2000:] + third.stderr[-2000:]
    out = third.stdout
    assert "regressions since the baseline" in out
    line = next(ln for ln in out.splitlines()
                if ln.strip().startswith("kernels sigmoid float32 accuracy:"))
    before, after = line.split("was pass, ")[1].split(" ULP; now fail, ")
    assert float(before) <= 4 < float(after.split(" ULP")[0])
    diff = run(fresh, project, "actaudit", "diff", "run1", "run3", "--out", "changes")
    assert diff.returncode == 0, diff.stderr
    assert (project / "changes" / "index.html").is_file()
    changed = [ln.split()[:5] for ln in diff.stdout.splitlines() if "regressed" in ln.split()]
    assert ["kernels", "sigmoid", "float32", "accuracy", "regressed"] in changed, diff.stdout


def test_the_github_actions_example_runs_its_commands(fresh, tmp_path):
    """docs/ci/github-actions.yml: its baseline command (in its comment), then each step
    it runs but the install (here, the wheel is installed already), in order, in a
    project laid out as it assumes; on kernels as they were, each exits 0."""
    import yaml

    example = REPO / "docs" / "ci" / "github-actions.yml"
    text = example.read_text()
    workflow = yaml.safe_load(text)
    steps = [s["run"] for s in workflow["jobs"]["audit"]["steps"]
             if "run" in s and s.get("name") != "Install"]
    assert [s.split()[0] for s in steps] == ["actaudit", "python", "actaudit"]
    save = next(ln.lstrip("# ").strip() for ln in text.splitlines()
                if "--save-baseline" in ln)
    root = make_project(tmp_path, PASSING_TESTS, "")
    first = run(fresh, root, *save.split())
    assert first.returncode == 1, first.stderr[-2000:]  # softplus fails: the baseline has it
    for command in steps:
        done = run(fresh, root, *command.split())
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
    for made in ("actaudit-run/summary.csv", "actaudit-junit.xml", "pytest-junit.xml",
                 "actaudit-diff/index.html"):
        assert (root / made).is_file(), made
