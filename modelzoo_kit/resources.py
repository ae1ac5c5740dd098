"""Where the templates and schemas are, in a checkout and in an installed wheel alike.

In the repository they live at the top (``templates/``, ``schemas/``); the wheel carries them
inside the package (see ``force-include`` in pyproject.toml). Looking beside the code first
means a non-editable install never reaches back into a source tree.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"modelzoo-kit is installed without its {name}/ folder")


def templates_dir() -> Path:
    return resource_dir("templates")


def schemas_dir() -> Path:
    return resource_dir("schemas")
