"""Measure the README reader and the validator against the hand-labelled corpus.

    .venv/bin/python bench/measure_corpus.py [CORPUS_DIR] [--extras]

CORPUS_DIR defaults to ../shared/corpus (files/, gold.jsonl; see its LABELING_NOTES.md). Prints
field-level extraction accuracy (per field and overall), how many gold violations the validator
finds, and the findings gold does not list. tests/test_corpus.py imports :func:`measure` and
asserts floors on the same numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from modelzoo_kit.findings import Finding  # noqa: E402
from modelzoo_kit.readme import ReadmeDocument, match_label, read_readme  # noqa: E402
from modelzoo_kit.rules import check_readme  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

#: gold.jsonl key -> how to read it from a parsed README.
BASIC_FIELDS = {
    "publisher": "publisher",
    "application_domain": "application_domain",
    "version": "version",
    "modified": "modified",
    "size": "size",
    "framework": "framework",
    "model_format": "model_format",
    "precision": "precision",
    "processor": "processor",
    "categories": "category",
    "description": "description",
}
REFERENCE_FIELDS = ("reference_url", "reference_branch", "reference_commit_id", "code_path")


def extracted_value(document: ReadmeDocument, gold_key: str) -> str | None:
    """The value the reader gives for one gold.jsonl key (None = label absent or unreadable)."""
    if gold_key in BASIC_FIELDS:
        entry = document.fields.get(BASIC_FIELDS[gold_key])
        return entry.value if entry is not None and entry.readable else None
    block = document.reference("reference")
    if block is None:
        return None
    if gold_key == "reference_url":
        return block.url.value if block.url else None
    key = {"reference_branch": "branch", "reference_commit_id": "commit_id"}.get(gold_key, gold_key)
    located = block.keys.get(key)
    return located.value if located else None


# --------------------------------------------------------------------------- violations

_GOLD_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^missing basic-information heading", "MZ101:交付件基本信息"),
    (r"^application_domain ", "MZ211"),
    (r"^version ", "MZ212"),
    (r"^size ", "MZ214"),
    (r"^framework ", "MZ215"),
    (r"^precision ", "MZ217"),
    (r"^categories ", "MZ219"),
    (r"^template placeholder text left in", "placeholder"),
    (r"^reference implementation gives only a URL", "MZ242"),
    (r"^no reference implementation", "MZ240"),
    (r"^reference implementation .*left empty", "MZ241"),
    (r"^adaptation", "adapted"),
    (r"^encoding:", "MZ001"),
    (r"^section structure differs", "MZ101"),
    (r"^format: .*(no space after|lack the space after)", "MZ103"),
    (r"^format: heading <h2 id=", "MZ104"),
    (r"^format: .*(stray markup|misplaced \*\*|written as a '##' heading)", "MZ230"),
    (r"^format: .*table of contents .*does not match", "MZ105"),
    (r"^format: reference URL is followed by", "MZ243"),
    (r"^format: section headings end with a full-width colon", "MZ106"),
    (r"^format: broken markdown link", "MZ107"),
    (r"^format: no markdown headings; section titles are bold", "MZ108"),
)


def gold_key(violation: str) -> str | None:
    """A gold violation -> the key a finding must have to match it (None: out of scope)."""
    missing_field = re.match(r"^missing field ([^\s（]+（[^）]*）|\S+)", violation)
    if missing_field:
        found = match_label(missing_field.group(1))
        return f"MZ201:{found[0]}" if found else None
    missing_section = re.match(r"^missing section (\S+)", violation)
    if missing_section:
        return f"MZ101:{missing_section.group(1)}"
    for pattern, key in _GOLD_PATTERNS:
        if re.search(pattern, violation):
            return key
    return None


def finding_keys(item: Finding) -> set[str]:
    """The gold keys a finding can match."""
    named = re.search(r"`([^`]+)`", item.message)
    if item.rule in ("MZ201", "MZ101") and named:
        return {f"{item.rule}:{named.group(1)}", item.rule}
    if item.rule in ("MZ401", "MZ402"):
        return {"placeholder"}
    if item.rule in ("MZ243", "MZ244", "MZ245"):
        return {item.rule, "adapted"}
    return {item.rule}


@dataclass
class Measurement:
    files: int = 0
    field_total: Counter[str] = field(default_factory=Counter)
    field_correct: Counter[str] = field(default_factory=Counter)
    field_misses: list[tuple[str, str, object, object]] = field(default_factory=list)
    gold_in_scope: int = 0
    gold_found: int = 0
    gold_out_of_scope: int = 0
    gold_missed: list[tuple[str, str]] = field(default_factory=list)
    extras: list[tuple[str, Finding]] = field(default_factory=list)
    findings_total: int = 0

    @property
    def accuracy(self) -> float:
        return sum(self.field_correct.values()) / max(1, sum(self.field_total.values()))

    @property
    def recall(self) -> float:
        return self.gold_found / max(1, self.gold_in_scope)

    def field_accuracy(self, key: str) -> float:
        return self.field_correct[key] / max(1, self.field_total[key])


def load_gold(corpus: Path) -> list[dict]:
    with open(corpus / "gold.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def measure(corpus: Path = DEFAULT_CORPUS) -> Measurement:
    result = Measurement()
    for gold in load_gold(corpus):
        name = gold["file"]
        document = read_readme(corpus / "files" / name)
        result.files += 1
        for key in (*BASIC_FIELDS, *REFERENCE_FIELDS):
            got, want = extracted_value(document, key), gold.get(key)
            result.field_total[key] += 1
            if got == want:
                result.field_correct[key] += 1
            else:
                result.field_misses.append((name, key, want, got))
        findings = check_readme(document, folder=None, path=name)
        result.findings_total += len(findings)
        keys_found: set[str] = set()
        for item in findings:
            keys_found |= finding_keys(item)
        gold_keys = set()
        for violation in gold["violations"]:
            key = gold_key(violation)
            if key is None:
                result.gold_out_of_scope += 1
                continue
            gold_keys.add(key)
            gold_keys.add(key.split(":")[0])
            result.gold_in_scope += 1
            if key in keys_found:
                result.gold_found += 1
            else:
                result.gold_missed.append((name, violation))
        toc_listed = any("table of contents" in v for v in gold["violations"])
        for item in findings:
            keys = finding_keys(item)
            if keys & gold_keys or (item.rule == "MZ105" and toc_listed):
                continue
            result.extras.append((name, item))
    return result


def report(result: Measurement, show_extras: bool) -> str:
    lines = [f"corpus: {result.files} labelled READMEs", "", "field extraction accuracy:"]
    for key in (*BASIC_FIELDS, *REFERENCE_FIELDS):
        lines.append(
            f"  {key:<22} {result.field_correct[key]:>3}/{result.field_total[key]:<3} "
            f"{result.field_accuracy(key):6.1%}"
        )
    total = sum(result.field_total.values())
    lines.append(
        f"  {'overall':<22} {sum(result.field_correct.values()):>3}/{total:<3} "
        f"{result.accuracy:6.1%}"
    )
    for name, key, want, got in result.field_misses:
        lines.append(f"    miss {name} {key}: gold {want!r}, read {got!r}")
    lines += [
        "",
        f"gold violations in the validator's scope: {result.gold_in_scope} "
        f"(plus {result.gold_out_of_scope} content/format notes out of scope)",
        f"found: {result.gold_found} ({result.recall:.1%})",
    ]
    for name, violation in result.gold_missed:
        lines.append(f"    missed {name}: {violation}")
    by_rule = Counter(item.rule for _, item in result.extras)
    lines += [
        "",
        f"findings: {result.findings_total}; not listed in gold: {len(result.extras)} "
        + (", ".join(f"{rule} {count}" for rule, count in sorted(by_rule.items())) or "none"),
    ]
    if show_extras:
        grouped: dict[str, list[str]] = defaultdict(list)
        for name, item in result.extras:
            grouped[item.rule].append(f"{name}:{item.line} {item.message}")
        for rule, entries in sorted(grouped.items()):
            lines.append(f"  {rule}")
            lines.extend(f"    {entry}" for entry in entries)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--extras", action="store_true", help="list findings gold does not list")
    args = parser.parse_args(argv)
    if not (args.corpus / "gold.jsonl").exists():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    print(report(measure(args.corpus), args.extras))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
