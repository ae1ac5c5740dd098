"""``modelzoo extract README.md [-o deliverable.yaml]``, ``modelzoo extract -r ZOO
[--dry-run] [--force]``: the deliverable.yaml a legacy README implies.

The output always loads: it is a draft (``draft: true``) where the README leaves something to
decide, and each open decision is a ``TODO`` value or a rule the draft breaks. The file's header
lists them with their lines, the same list ``modelzoo validate`` reports as MZ307, so one pass
is enough. What the typed fields do not hold is kept as markdown under ``readme_text``, by the
section it came from, so the README renders back without losing a line. A README.en.md beside
README.md contributes the English of every text field.

``-r ZOO`` writes a deliverable.yaml beside every README of a known layout below ZOO (never
over an existing one without --force; --dry-run writes nothing) and prints what each still
needs.

Exit 0 when every result is a complete deliverable, 1 when something is left for the author
to decide, 2 when a README cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from modelzoo_kit.display import shown
from modelzoo_kit.errors import InputFileError, UsageError


def register(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "readme", type=Path, metavar="README", help="the legacy README.md (with -r: the zoo)"
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="write deliverable.yaml here (default: stdout)"
    )
    parser.add_argument(
        "-r", "--recursive", action="store_true",
        help="a whole zoo: a deliverable.yaml beside every README of a known layout",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="with -r: write nothing")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.set_defaults(run=run)


def header(readme: Path, notes: list) -> str:
    """The comment block of extraction notes this command wrote before drafts; kept for
    callers of the old name (the file's header is now ``extract.extracted_file``'s)."""
    lines = [f"# Extracted from {shown(readme.name, one_line=True)} by `modelzoo extract`."]
    lines.extend(f"#   {shown(note, one_line=True)}" for note in notes)
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from modelzoo_kit.errors import DeliverableNotFoundError
    from modelzoo_kit.extract import extracted_file
    from modelzoo_kit.writing import write_atomically

    if not args.readme.exists():
        raise DeliverableNotFoundError(f"{args.readme}: no such file")
    if args.recursive:
        if args.output is not None:
            raise UsageError("-o names one file; with -r each deliverable.yaml goes beside "
                             "its README")
        return _run_zoo(args)
    if args.output is not None and args.output.is_dir():
        raise UsageError(
            f"-o {args.output}: is a folder; name the file, e.g. {args.output / 'deliverable.yaml'}"
        )
    if args.output is not None and args.output.exists() and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to overwrite it")
    made = extracted_file(args.readme, args.output)
    if args.output is None:
        sys.stdout.write(made.text)
    else:
        if not args.output.parent.is_dir():
            raise UsageError(f"{args.output.parent}: no such folder")
        write_atomically(args.output, made.text)
        print(f"wrote {args.output}", file=sys.stderr)
    for note in made.notes:
        print(f"{args.readme}: {shown(note, one_line=True)}", file=sys.stderr)
    for problem in made.decisions:
        print(f"{shown(problem, one_line=True)}", file=sys.stderr)
    return 1 if made.decisions else 0


def zoo_readmes(zoo: Path) -> list[Path]:
    """Every README.md below ``zoo`` whose headings are a known layout's (symbolic links to
    folders are not followed; version-control and environment folders are skipped)."""
    from modelzoo_kit.classify import detect_layout
    from modelzoo_kit.layouts import README_FILES
    from modelzoo_kit.readme import read_readme
    from modelzoo_kit.walk import SKIPPED_DIRS

    found: list[Path] = []
    for top, dirs, files in os.walk(zoo):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        if README_FILES["zh"] not in files:
            continue
        readme = Path(top) / README_FILES["zh"]
        try:
            if readme.is_file() and detect_layout(read_readme(readme).text) is not None:
                found.append(readme)
        except InputFileError:
            continue
    return found


def _run_zoo(args: argparse.Namespace) -> int:
    from modelzoo_kit.extract import extracted_file
    from modelzoo_kit.layouts import DELIVERABLE_FILE
    from modelzoo_kit.writing import write_atomically

    written = kept = drafts = failed = 0
    for readme in zoo_readmes(args.readme):
        target = readme.with_name(DELIVERABLE_FILE)
        where = shown(str(target), one_line=True)
        if (target.exists() or target.is_symlink()) and not args.force:
            kept += 1
            print(f"{where}: exists; left as it is (--force replaces it)")
            continue
        try:
            made = extracted_file(readme, target)
        except InputFileError as exc:
            failed += 1
            print(f"{where}: not extracted: {shown(exc, one_line=True)}")
            continue
        if not args.dry_run:
            write_atomically(target, made.text)
        written += 1
        drafts += bool(made.decisions)
        fields = sorted({p.field.split(".")[0] for p in made.decisions})
        needs = f"{len(made.decisions)} open decision(s) ({', '.join(fields)})" if fields else (
            "complete")  # fmt: skip
        print(f"{where}: {'would write' if args.dry_run else 'wrote'}; {needs}")
    print(
        f"{written} deliverable.yaml {'to write' if args.dry_run else 'written'} "
        f"({drafts} drafts), "
        f"{kept} left as they were, {failed} README(s) not read"
    )
    return 2 if failed else (1 if drafts else 0)
