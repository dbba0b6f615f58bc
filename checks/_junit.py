"""An audit as JUnit XML (``actaudit audit --junit FILE``), the format CI systems show as
test results: one test case per row of summary.csv, a ``fail`` as a failure, an
``error`` as an error, a ``skip`` as skipped, a ``warn`` as a pass with its detail
printed (system-out)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from .._files import atomic
from ._results import explain

SUITES = "actaudit"  # the root's name: how a file this module wrote is known


class JunitError(ValueError):
    """A --junit path that cannot be used: bad usage, exit status 2."""


def claim(path: str | Path) -> Path:
    """``path`` checked before any work: a new file, or a JUnit file actaudit wrote."""
    p = Path(path)
    if p.is_dir():
        raise JunitError(f"--junit {str(p)!r} is a folder: give a file name")
    if p.exists():
        try:
            ours = ET.parse(p).getroot().get("name") == SUITES
        except (ET.ParseError, OSError):
            ours = False
        if not ours:
            raise JunitError(f"refusing to replace --junit {str(p)!r}: it is not a JUnit "
                             "file actaudit wrote; choose another file")
    elif not p.parent.is_dir():
        raise JunitError(f"--junit {str(p)!r}: no folder {str(p.parent)!r}")
    return p


def document(details: pd.DataFrame) -> ET.ElementTree:
    """The XML: a test suite per (implementation, activation), a test case per row."""
    root = ET.Element("testsuites", name=SUITES)
    for (im, act), rows in details.groupby(["impl", "activation"], sort=False):
        n = rows["status"].value_counts()
        suite = ET.SubElement(root, "testsuite", name=f"{im}.{act}", tests=str(len(rows)),
                              failures=str(n.get("fail", 0)), errors=str(n.get("error", 0)),
                              skipped=str(n.get("skip", 0)))
        for _, r in rows.iterrows():
            name = "-".join(str(p) for p in (r["variant"], r["dtype"], r["check"]) if p)
            seconds = r.get("seconds")
            case = ET.SubElement(suite, "testcase", classname=f"{im}.{act}", name=name,
                                 time=f"{float(seconds) if pd.notna(seconds) else 0.0:.3f}")
            status = r["status"]
            if status in ("fail", "error"):
                tag = "failure" if status == "fail" else "error"
                text = explain(r)
                el = ET.SubElement(case, tag, message=text.splitlines()[0][:500], type=status)
                el.text = text
            elif status == "skip":
                ET.SubElement(case, "skipped", message=str(r["detail"])[:500])
            elif status == "warn":
                ET.SubElement(case, "system-out").text = explain(r)
    return ET.ElementTree(root)


def write(path: Path, details: pd.DataFrame) -> None:
    """The JUnit file at ``path``, atomically (claimed first with `claim`)."""
    tree = document(details)
    ET.indent(tree)
    atomic(path, lambda p: tree.write(p, encoding="utf-8", xml_declaration=True))
