"""Nothing a user has is lost: output paths are checked before any work starts, a folder
holding what actaudit did not write is refused (or replaced only with --force), and an
interrupted audit keeps its finished cases and resumes from them."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from actaudit import _files

AUDIT = ["audit", "--impl", "reference", "--only", "relu6", "--dtypes", "float16", "--quiet"]
# the audit that is interrupted, and run whole once (the `audited` folder) to compare with
WHOLE = ["audit", "--impl", "reference", "--impl", "jax.nn", "--only", "relu6,hard_tanh,relu",
         "--dtypes", "float16", "--checks", "accuracy,gradient,special", "--exit-zero"]


def run(*args, cwd, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "actaudit.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def cache(oracle_cache):
    return str(oracle_cache)


@pytest.fixture(scope="module")
def audited(tmp_path_factory, cache):
    """A real, small audit (`WHOLE`), and its folder."""
    root = tmp_path_factory.mktemp("outputs")
    done = run(*WHOLE, "--quiet", "--cache-dir", cache, "--out", str(root / "run"), cwd=root)
    assert done.returncode == 0, done.stderr
    return root / "run"


def one_line_error(done, *phrases):
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for phrase in phrases:
        assert phrase in done.stderr, done.stderr


def test_an_audit_folder_has_a_manifest_of_what_it_wrote(audited):
    manifest = _files._manifest(audited)
    assert manifest["kind"] == "audit"  # (a run of `WHOLE`)
    assert set(manifest["files"]) == {"summary.csv", "results.parquet", "curves.parquet",
                                      "environment.json", "summary.json"}
    assert not (audited / ".actaudit-partial").exists()  # the journal went with success
    assert _files.foreign(audited, "audit") == []


def test_report_refuses_a_folder_holding_what_it_did_not_write(audited, tmp_path):
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "precious.txt").write_text("important")
    one_line_error(run("report", str(audited), "--out", str(docs), cwd=tmp_path),
                   "refusing to replace", "precious.txt", "--force")
    assert (docs / "precious.txt").read_text() == "important"
    assert [p.name for p in tmp_path.iterdir()] == ["mydocs"]  # no staging left behind


def test_report_refuses_to_write_over_its_own_runs(audited, tmp_path):
    before = sorted(p.name for p in audited.iterdir())
    one_line_error(run("report", str(audited), "--out", str(audited), cwd=tmp_path),
                   "is or holds the run")
    one_line_error(run("report", str(audited), "--out", str(audited.parent), cwd=tmp_path),
                   "is or holds the run")
    assert sorted(p.name for p in audited.iterdir()) == before


def test_report_refuses_a_plain_file_and_a_report_edited_since(audited, tmp_path):
    plain = tmp_path / "notes.txt"
    plain.write_text("mine")
    one_line_error(run("report", str(audited), "--out", str(plain), cwd=tmp_path),
                   "is a file, not a folder")
    assert plain.read_text() == "mine"
    out = tmp_path / "rep"
    assert run("report", str(audited), "--out", str(out), cwd=tmp_path).returncode == 0
    with (out / "index.html").open("a") as f:  # the user annotated the page
        f.write("<!-- my notes -->")
    one_line_error(run("report", str(audited), "--out", str(out), cwd=tmp_path),
                   "index.html")
    assert (out / "index.html").read_text().endswith("<!-- my notes -->")
    forced = run("report", str(audited), "--out", str(out), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert not (out / "index.html").read_text().endswith("<!-- my notes -->")


def test_audit_checks_its_output_before_any_work(tmp_path, cache):
    """A bad --out fails at once, in one line, before the audit runs (an hour's work is
    never lost to a path that could not be written at the end)."""
    plain = tmp_path / "taken"
    plain.write_text("mine")
    started = time.monotonic()
    one_line_error(run(*AUDIT, "--cache-dir", cache, "--out", str(plain), cwd=tmp_path),
                   "is a file, not a folder")
    one_line_error(run(*AUDIT, "--cache-dir", cache, "--out", str(plain / "sub"),
                       cwd=tmp_path), "cannot be written")
    one_line_error(run(*AUDIT, "--cache-dir", str(plain), "--out", str(tmp_path / "o"),
                       cwd=tmp_path), "--cache-dir")
    assert time.monotonic() - started < 60  # nothing was audited
    assert plain.read_text() == "mine"
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "summary.csv").write_text("their own table")
    one_line_error(run(*AUDIT, "--cache-dir", cache, "--out", str(theirs), cwd=tmp_path),
                   "refusing to write into", "summary.csv")
    assert (theirs / "summary.csv").read_text() == "their own table"


def test_bench_compare_refuses_to_replace_a_file_it_did_not_write(tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b\n1,2\n")
    one_line_error(run("bench", "compare", str(tmp_path), str(tmp_path), "--out", str(mine),
                       cwd=tmp_path), "not a comparison actaudit wrote")
    assert mine.read_text() == "a,b\n1,2\n"


def _interrupted(args, cwd, ready, env):
    """Run ``actaudit args`` in a process group of its own, as a terminal would, and
    press Ctrl-C (SIGINT to the whole group) once ``ready()`` is true."""
    log = cwd / "stderr.txt"
    # Ctrl-C's default meaning restored first (a background job may have it ignored,
    # which its children inherit), then the command itself
    restore = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
               "os.execv(sys.executable, [sys.executable, '-m', 'actaudit.cli', *sys.argv[1:]])")
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", restore, *args], cwd=cwd, env=env,
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        deadline = time.monotonic() + 300
        while proc.poll() is None and not ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    time.sleep(1)
    group = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(proc.pid)],
                           capture_output=True, text=True).stdout.split("\n")
    left = [line.split()[0] for line in group if line.strip() and "Z" not in line.split()[1]]
    return proc.returncode, log.read_text(), left  # (zombies, exited, are init's to reap)


def test_ctrl_c_keeps_the_finished_cases_and_the_same_command_resumes(tmp_path, cache,
                                                                     audited):
    """Ctrl-C in the middle of an audit: exit 130, no traceback from any worker, no
    process left, the finished cases kept; the same command then resumes, and its table
    is the one an uninterrupted audit wrote (`audited`)."""
    args = [*WHOLE, "--cache-dir", cache]
    out = tmp_path / "run"
    journal = out / ".actaudit-partial"
    code, err, left = _interrupted([*args, "--out", str(out)], tmp_path,
                                   lambda: any(journal.rglob("*.json")), dict(os.environ))
    if code == 0:  # the audit finished before the key was pressed: nothing to resume
        pytest.skip("the audit finished before Ctrl-C reached it")
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "the same command resumes" in err
    assert left == [], "worker processes outlived the audit"
    assert not (out / "summary.csv").exists()
    kept = len(list(journal.rglob("*.json")))
    assert kept >= 1
    resumed = run(*args, "--out", str(out), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {kept} case" in resumed.stderr
    got = pd.read_csv(out / "summary.csv", keep_default_na=False)
    want = pd.read_csv(audited / "summary.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(got, want)
    assert not journal.exists()


def test_ctrl_c_while_tables_build_stops_every_worker_quietly(tmp_path):
    """The oracle's pool of processes is stopped with the command: no traceback from a
    worker, none left running, and the tables finished before are kept (a table is
    written whole or not at all)."""
    cache = tmp_path / "cache"
    started = time.monotonic()
    code, err, left = _interrupted(
        ["tables", "--only", "elu,selu,celu", "--dtypes", "float16", "--cache-dir",
         str(cache)], tmp_path, lambda: time.monotonic() - started > 5, dict(os.environ))
    if code == 0:
        pytest.skip("the tables were built before Ctrl-C reached the command")
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert left == [], "oracle worker processes outlived the command"
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*.tmp"))


@pytest.mark.parametrize("option, name, text, phrase", [
    ("--junit", "notes.xml", "<notes/>", "refusing to replace --junit"),
    ("--save-baseline", "notes.json", '{"mine": 1}', "refusing to replace --save-baseline"),
    ("--baseline", "notes.json", '{"mine": 1}', "is not a baseline"),
])
def test_ci_files_that_actaudit_did_not_write_are_refused_first(tmp_path, cache, option, name,
                                                                text, phrase):
    mine = tmp_path / name
    mine.write_text(text)
    done = run(*AUDIT, "--cache-dir", cache, "--out", str(tmp_path / "run"), option,
               str(mine), cwd=tmp_path)
    one_line_error(done, phrase)
    assert mine.read_text() == text
    assert not (tmp_path / "run").exists()  # refused before any work


def test_junit_has_a_case_per_row_and_a_failure_per_fail(tmp_path, cache):
    import json
    import xml.etree.ElementTree as ET

    junit = tmp_path / "junit.xml"
    done = run("audit", "--impl", "jax.nn", "--only", "sigmoid,relu", "--dtypes", "bfloat16",
               "--checks", "accuracy,special", "--quiet", "--cache-dir", cache, "--out",
               str(tmp_path / "run"), "--junit", str(junit), cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # jax.nn's sigmoid: 2.04 ULP in bfloat16
    summary = pd.read_csv(tmp_path / "run" / "summary.csv", keep_default_na=False)
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) == len(summary)
    failed = {c.get("classname") + " " + c.get("name"): c.find("failure") for c in cases
              if c.find("failure") is not None}
    bad = summary[summary["status"] == "fail"]
    assert sorted(failed) == sorted(f"jax.nn.{r.activation} {r.dtype}-{r.check}"
                                    for r in bad.itertuples())
    assert "jax.nn.sigmoid bfloat16-accuracy" in failed
    text = failed["jax.nn.sigmoid bfloat16-accuracy"].text
    assert "ULP: input" in text and "repro: actaudit oracle sigmoid" in text
    verdict = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert verdict["verdict"] == "fail" and verdict["counts"]["fail"] == len(bad)
    again = run("audit", "--impl", "jax.nn", "--only", "relu", "--dtypes", "bfloat16",
                "--checks", "accuracy", "--quiet", "--cache-dir", cache, "--out",
                str(tmp_path / "run2"), "--junit", str(junit), cwd=tmp_path)
    assert again.returncode == 0, again.stderr  # its own JUnit file: replaced


def test_diff_refuses_what_is_not_an_audit_and_a_folder_it_did_not_write(audited, tmp_path):
    one_line_error(run("diff", str(tmp_path / "nosuch"), str(audited), cwd=tmp_path),
                   "no such audit folder or baseline file")
    (tmp_path / "empty").mkdir()
    one_line_error(run("diff", str(tmp_path / "empty"), str(audited), cwd=tmp_path),
                   "holds no audit")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.html").write_text("mine")
    one_line_error(run("diff", str(audited), str(audited), "--out", str(docs), cwd=tmp_path),
                   "refusing to replace --out")
    assert (docs / "index.html").read_text() == "mine"
    same = run("diff", str(audited), str(audited), "--out", str(tmp_path / "d"), cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    rows = len(pd.read_csv(audited / "summary.csv"))
    assert same.stdout.splitlines()[0].endswith(f": {rows} same")
