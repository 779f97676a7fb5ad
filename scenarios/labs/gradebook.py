"""The instructor's view: grade a folder of submissions, write ``gradebook.csv`` and
``gradebook.json``.

A submission is ``DIR/<student>.te`` or ``DIR/<student>/policy.te``; the student's name is the
file stem or the folder name.  A submission that does not compile is graded 0 with the
compiler's message in the ``error`` column; one bad file never stops the others.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from attrs import define, field

from scenarios.labs.grader import Grade, grade
from scenarios.labs.model import Lab, LabError

__all__ = ["Gradebook", "gradebook", "submissions"]

COLUMNS = ("student", "score", "functionality", "security", "least_privilege", "ok",
           "failed_cases", "unused_grants", "error")


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student, policy file) pairs in name order."""
    if not folder.is_dir():
        raise LabError(f"no such submissions folder: {folder}")
    out = [(f.stem, f) for f in folder.glob("*.te")]
    out += [(d.name, d / "policy.te") for d in folder.iterdir()
            if d.is_dir() and (d / "policy.te").is_file()]
    return sorted(out)


@define(slots=True)
class Gradebook:
    lab: str
    rows: list[dict[str, Any]] = field(factory=list)
    grades: dict[str, Grade] = field(factory=dict)
    written: list[Path] = field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"lab": self.lab, "students": self.rows,
                "details": {s: g.to_json() for s, g in self.grades.items()},
                "written": [str(p) for p in self.written]}

    def format(self) -> str:
        lines = [f"gradebook for lab {self.lab}: {len(self.rows)} submission(s)"]
        for r in self.rows:
            err = f"  ERROR {r['error']}" if r["error"] else ""
            lines.append(f"  {r['student']:20} {r['score']:6} / 100  "
                         f"{'ok' if r['ok'] else 'failing: ' + r['failed_cases']}{err}")
        lines += [f"written: {p}" for p in self.written]
        return "\n".join(lines)


def _row(student: str, g: Grade) -> dict[str, Any]:
    failed = [c.name for c in g.cases if not c.passed and c.kind != "info"]
    return {"student": student, "score": g.score, "functionality": g.functionality,
            "security": g.security, "least_privilege": g.least_privilege, "ok": g.ok,
            "failed_cases": " ".join(failed),
            "unused_grants": g.coverage.unused if g.coverage is not None else "",
            "error": g.error}


def gradebook(lab: Lab, folder: Path, out: Path | None = None) -> Gradebook:
    """Grade every submission in ``folder``; write the CSV and JSON into ``out`` (or folder)."""
    book = Gradebook(lab.name)
    for student, path in submissions(folder):
        try:
            g = grade(lab, path)
        except Exception as e:  # one broken submission never stops the class
            g = Grade(lab.name, str(path), error=f"{path}: grader error: {e!r}")
        book.grades[student] = g
        book.rows.append(_row(student, g))
    out = out or folder
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out / "gradebook.csv", out / "gradebook.json"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in book.rows:
            w.writerow(r)
    book.written = [csv_path, json_path]
    json_path.write_text(json.dumps(book.to_json(), indent=2) + "\n", encoding="utf-8")
    return book
