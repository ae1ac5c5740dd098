"""Helpers for the catalogue's tests (not a test module): a small zoo of every kind of
deliverable, with real READMEs from ../shared/corpus where it is there, and its report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

FIXTURE_ZOO = Path(__file__).parent / "fixtures" / "catalog" / "zoo"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PT_FILES = CORPUS / "pytorch-2022" / "files"
TEMPLATE_FILES = CORPUS / "files"

#: Real READMEs the test zoo takes from the corpus when it is there (each its own folder).
CORPUS_READMES = (
    (PT_FILES, ("p001.md", "p002.md", "p003.md")),
    (TEMPLATE_FILES, ("002.md", "004.md")),
)


def make_zoo(tmp_path: Path, corpus: bool = True) -> Path:
    """A private copy of tests/fixtures/catalog/zoo, plus corpus READMEs (``corpus/<file>``)."""
    zoo = tmp_path / "zoo"
    shutil.copytree(FIXTURE_ZOO, zoo)
    if corpus:
        for folder, names in CORPUS_READMES:
            for name in names:
                if (folder / name).is_file():
                    target = zoo / "corpus" / f"{folder.parent.name}_{Path(name).stem}"
                    target.mkdir(parents=True)
                    shutil.copyfile(folder / name, target / "README.md")
    return zoo


def finding(rule: str, severity: str, path: str, line: int | None, message: str) -> dict:
    return {"rule": rule, "severity": severity, "path": path, "line": line, "column": None,
            "message": message, "hint": ""}  # fmt: skip


def write_report(path: Path, findings: list[dict]) -> Path:
    """A ``validate --format json`` report holding ``findings``."""
    path.write_text(json.dumps({"schema": 1, "summary": {}, "findings": findings}), "utf-8")
    return path
