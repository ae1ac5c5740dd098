"""``modelzoo validate PATH...``: check deliverables and legacy READMEs against the template.

PATH is a deliverable folder (deliverable.yaml and/or README.md), a README file, a
deliverable.yaml, or with ``--recursive`` a zoo root in which every model folder is checked.
Exit 0 when no error is found (warnings allowed), 1 when one is, 2 for bad usage or input.
The rule ids are listed in docs/rules.md; ``--format json`` prints the stable shape documented
in :mod:`modelzoo_kit.findings`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from modelzoo_kit.errors import DeliverableNotFoundError, UsageError
from modelzoo_kit.findings import Finding, exit_code, filter_findings, report_json, report_text

#: Folders a zoo walk never enters.
SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="PATH is a zoo root: check every model folder below it and print a summary table",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="IDS",
        help="report only these rule ids or prefixes (comma-separated, e.g. MZ2,MZ101)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="IDS",
        help="drop these rule ids or prefixes (comma-separated)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report (auto: on a terminal, unless NO_COLOR is set)",
    )
    parser.add_argument(
        "--provenance",
        action="store_true",
        help="also prove each deliverable's code is the code at the commit it cites",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="with --provenance: use only the cache (an uncached reference is a PV060 warning)",
    )
    parser.add_argument(
        "--cache",
        "--cache-dir",
        dest="cache_dir",
        type=Path,
        help="with --provenance: keep fetched commits here (as `modelzoo provenance --cache`)",
    )
    parser.add_argument(
        "--strict-provenance",
        action="store_true",
        help="with --provenance: a reference that could not be verified (no network, not "
        "cached: PV060) is an error instead of a warning",
    )
    parser.set_defaults(run=run)


def _rule_list(values: list[str]) -> list[str]:
    ids = [part.strip().upper() for value in values for part in value.split(",") if part.strip()]
    for rule_id in ids:
        if not rule_id.isalnum():
            raise UsageError(f"{rule_id!r} is not a rule id or prefix (e.g. MZ201, MZ2, PV)")
    return ids


def _shown(path: Path) -> str:
    """Paths in findings: relative to the working directory when below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


#: What a training-deliverable README has near its top and a zoo's index README lacks.
_DELIVERABLE_MARKERS = re.compile(
    r"基本信息|Basic Information|发布者|Publisher|应用领域|Application Domain".encode(),
    re.IGNORECASE,
)


def is_model_folder(folder: Path) -> bool:
    """A zoo folder is a model folder when it holds deliverable.yaml, or a README.md that has
    the template's basic information (a zoo's index READMEs do not). The README test is a
    byte search, so the walk does not parse every README twice."""
    if os.path.lexists(folder / "deliverable.yaml"):
        return True
    readme = folder / "README.md"
    if not readme.is_file():
        return False
    try:
        with open(readme, "rb") as handle:
            head = handle.read(64 * 1024)
    except OSError:
        return True  # let the check report the unreadable README
    return bool(_DELIVERABLE_MARKERS.search(head))


def model_folders(root: Path) -> Iterator[Path]:
    """Every model folder below ``root``; folders nested deeper than MAX_FOLDER_DEPTH are one
    error (os.walk recurses once per level: a 1,000-deep tree was a RecursionError)."""
    from modelzoo_kit.inputs import MAX_FOLDER_DEPTH

    for current, dirs, _files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        folder = Path(current)
        if dirs and len(folder.relative_to(root).parts) >= MAX_FOLDER_DEPTH:
            raise UsageError(
                f"{folder}: folders nested more than {MAX_FOLDER_DEPTH} deep below {root}; "
                "validate the model folders one by one, or flatten the tree"
            )
        if is_model_folder(folder):
            yield folder


def _targets(paths: list[Path], recursive: bool) -> list[tuple[str, Path]]:
    """(kind, path) to check, each folder once: ``folder`` or ``readme``."""
    targets: list[tuple[str, Path]] = []
    seen: set[Path] = set()

    def add(kind: str, path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            targets.append((kind, path))

    for path in paths:
        if not path.exists():
            raise DeliverableNotFoundError(f"{path}: no such file or folder")
        if path.is_dir():
            if recursive:
                for folder in model_folders(path):
                    add("folder", folder)
            elif os.path.lexists(path / "deliverable.yaml") or os.path.lexists(path / "README.md"):
                add("folder", path)
            else:
                raise UsageError(
                    f"{path}: holds no deliverable.yaml or README.md; "
                    "use --recursive to check every model folder below a zoo root"
                )
        elif path.name == "deliverable.yaml" or (
            path.name in ("README.md", "README.en.md")
            and (path.parent / "deliverable.yaml").is_file()
        ):
            add("folder", path.parent)
        else:
            add("readme", path)
    return targets


def _provenance(folder: Path, deliverable: object, args: argparse.Namespace) -> list[Finding]:
    try:
        from modelzoo_kit.provenance import check_provenance
    except ImportError as exc:
        raise UsageError(f"--provenance is not available in this installation ({exc})") from None
    return list(
        check_provenance(
            folder,
            deliverable,
            cache_dir=args.cache_dir,
            offline=args.offline,
            strict=args.strict_provenance,
        )
    )


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.rules import check_deliverable_folder, check_readme_file

    select, ignore = _rule_list(args.select), _rule_list(args.ignore)
    findings: list[Finding] = []
    files = 0
    for kind, path in _targets(args.paths, args.recursive):
        if kind == "readme":
            files += 1
            findings.extend(check_readme_file(path, _shown(path)))
            continue
        result = check_deliverable_folder(path, _shown(path))
        files += result.files_checked
        findings.extend(result.findings)
        if args.provenance and result.deliverable is not None:
            findings.extend(_provenance(path, result.deliverable, args))
    findings = filter_findings(findings, select, ignore)
    if args.format == "json":
        sys.stdout.write(report_json(findings, files))
    else:
        colour = args.color == "always" or (
            args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        )
        sys.stdout.write(report_text(findings, files, colour=colour, table=args.recursive))
    return exit_code(findings)
