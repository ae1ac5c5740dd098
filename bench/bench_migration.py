"""Measure adopting the kit on an existing zoo: extract every README to a draft, render it back.

    .venv/bin/python bench/bench_migration.py FOLDER [--work /tmp/migrate-bench] [--json OUT]

FOLDER is a folder of READMEs (``*.md`` directly in it, as ../shared/corpus/files) or a zoo
(every README.md of a known layout below it, as ``modelzoo extract -r`` finds them). Each README
is copied with the files of its own folder (no sub-folders) into --work, so nothing is written
beside the originals. Prints:

- loads: the share whose extracted deliverable.yaml loads (as a draft);
- renders: the share whose draft renders (zh);
- lines: the share of the original's non-empty lines (markup stripped, see
  ``modelzoo_kit.carried.line_key``) that reappear in the rendered README, overall and per
  top-level section of the original;
- typed_lines: the same share for the README rendered without ``readme_text``, i.e. what the
  typed fields alone hold (the rest is carried as markdown);
- header == validate: the share whose header lists exactly validate's MZ307 findings;
- idempotent: the share for which extract -> render -> extract gives the same file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from modelzoo_kit.carried import heading_key, line_key  # noqa: E402
from modelzoo_kit.errors import ModelzooError  # noqa: E402
from modelzoo_kit.extract import extracted_file  # noqa: E402
from modelzoo_kit.loading import load_deliverable  # noqa: E402
from modelzoo_kit.readme import read_readme  # noqa: E402
from modelzoo_kit.render import render_folder, render_readme  # noqa: E402
from modelzoo_kit.rules import check_deliverable_folder  # noqa: E402

MAX_COPIED_BYTES = 1_000_000


def readmes(folder: Path) -> list[Path]:
    from modelzoo_kit.commands.extract import zoo_readmes

    if (folder / "README.md").exists():  # a zoo, not a folder of README files
        return zoo_readmes(folder)
    flat = sorted(folder.glob("*.md"))
    return flat if flat else zoo_readmes(folder)


def _copy(readme: Path, into: Path) -> Path:
    into.mkdir(parents=True)
    if readme.name == "README.md":
        for item in readme.parent.iterdir():
            if item.is_file() and not item.is_symlink() and item.stat().st_size < MAX_COPIED_BYTES:
                if item.name not in ("deliverable.yaml", "README.en.md"):
                    shutil.copy(item, into / item.name)
    shutil.copy(readme, into / "README.md")
    return into / "README.md"


def _sections(readme: Path) -> list[tuple[str, str]]:
    """(top-level section, line key) of every non-empty line of the README."""
    document = read_readme(readme)
    tops = sorted((s.line, s) for s in document.sections if s.level <= 2)
    out = []
    current = "(top)"
    starts = {line: heading_key(s.title) for line, s in tops}
    for number, line in enumerate(document.lines, 1):
        current = starts.get(number, current)
        key = line_key(line)
        if key:
            out.append((current, key))
    return out


def measure_one(readme: Path, work: Path) -> dict:
    copy = _copy(readme, work)
    row: dict = {"readme": str(readme), "loads": False, "renders": False}
    original = _sections(copy)
    try:
        made = extracted_file(copy)
    except ModelzooError as exc:
        row["error"] = str(exc)[:200]
        return row
    (copy.parent / "deliverable.yaml").write_text(made.text, encoding="utf-8")
    result = check_deliverable_folder(copy.parent)
    row["loads"] = result.deliverable is not None
    found = sorted(
        (f.line, f.message) for f in result.findings if f.rule == "MZ307"
    )
    row["header_is_validate"] = found == sorted(
        (p.line, f"{p.field}: {p.message}") for p in made.decisions
    )
    try:
        (rendered,) = render_folder(copy.parent, ("zh",))
    except ModelzooError as exc:
        row["error"] = str(exc)[:200]
        return row
    row["renders"] = True
    shown = {line_key(line) for line in rendered.text.splitlines()}
    per: Counter = Counter()
    kept: Counter = Counter()
    for section, key in original:
        per[section] += 1
        kept[section] += key in shown
    row["lines"] = {s: (kept[s], per[s]) for s in per}
    typed = render_readme(
        load_deliverable(copy.parent).model_copy(update={"readme_text": {}}), copy.parent, "zh"
    )
    typed_shown = {line_key(line) for line in typed.splitlines()}
    row["typed_lines"] = (sum(key in typed_shown for _, key in original), len(original))
    rendered.path.write_text(rendered.text, encoding="utf-8")
    row["idempotent"] = extracted_file(copy).text == made.text
    return row


def report(rows: list[dict]) -> dict:
    n = len(rows) or 1
    total = kept = 0
    by_section: dict[str, list[int]] = {}
    for row in rows:
        for section, (k, t) in row.get("lines", {}).items():
            kept, total = kept + k, total + t
            pair = by_section.setdefault(section, [0, 0])
            pair[0] += k
            pair[1] += t
    return {
        "readmes": len(rows),
        "loads": sum(r["loads"] for r in rows) / n,
        "renders": sum(r["renders"] for r in rows) / n,
        "header_is_validate": sum(r.get("header_is_validate", False) for r in rows) / n,
        "idempotent": sum(r.get("idempotent", False) for r in rows) / n,
        "lines": kept / total if total else 1.0,
        "typed_lines": sum(r.get("typed_lines", (0, 0))[0] for r in rows)
        / max(1, sum(r.get("typed_lines", (0, 0))[1] for r in rows)),
        "lines_by_section": {
            s: (k / t, t) for s, (k, t) in sorted(by_section.items(), key=lambda x: -x[1][1])
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/migrate-bench"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sections", type=int, default=25, help="sections to print")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    rows = [measure_one(r, args.work / f"{i:04d}") for i, r in enumerate(readmes(args.folder))]
    summary = report(rows)
    print(f"{summary['readmes']} READMEs")
    for name in ("loads", "renders", "header_is_validate", "idempotent", "lines", "typed_lines"):
        print(f"  {name:<20} {summary[name]:.1%}")
    print("  lines by top-level section (share, lines):")
    for section, (share, count) in list(summary["lines_by_section"].items())[: args.sections]:
        print(f"    {share:6.1%} {count:6d}  {section}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False,
                                        indent=1), encoding="utf-8")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
