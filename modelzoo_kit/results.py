"""The training results table (训练结果展示) as typed rows.

A README writes it as a markdown table, one row per configuration::

    | NAME     | Acc@1 | FPS    | Epochs | AMP_Type | Torch_Version |
    | 1p-竞品V | -     | 517    | 2      | O1       | 1.5           |
    | 8p-NPU   | 76.52 | 4485.8 | 150    | O2       | 1.8           |

:func:`read_results_table` turns a parsed :class:`~modelzoo_kit.readme.Table` into a
:class:`ResultsTable`: the columns it knows (name, card count, throughput, epochs, AMP type,
framework version) by their header, every other column an accuracy metric. No rules here:
:mod:`modelzoo_kit.rules` judges the rows, and the metadata's ``results`` are rendered to the
same columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from modelzoo_kit.readme import Table

#: Header (lower-cased, ``_`` and spaces dropped) -> the role of its column.
COLUMN_ROLES: dict[str, str] = {
    "name": "name", "device": "name",
    "npunums": "cards", "cards": "cards", "卡数": "cards",
    "fps": "throughput", "wps": "throughput", "samples/s": "throughput",
    "tokens/s": "throughput", "throughput": "throughput", "性能": "throughput",
    "epochs": "epochs", "epoch": "epochs", "epochs/steps": "epochs", "steps": "epochs",
    "iterations": "epochs", "kimgs": "epochs", "maxtrainingtimesteps": "epochs",
    "amptype": "amp", "amp": "amp", "useamp": "amp", "精度模式": "amp", "mode": "amp",
    "torchversion": "framework", "pytorchversion": "framework",
    "batchsize": "other", "cpu": "other",
}  # fmt: skip

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*[%kK]?$")
_CARDS = re.compile(r"(?<![0-9])(\d{1,3})\s*[pP](?![a-zA-Z])")
_BASELINE = re.compile(r"竞品|gpu|v100|a100|baseline", re.IGNORECASE)


#: Headers that name a throughput however they are worded: ``throughput rate (samples/s)``,
#: ``1p-性能(NPU) sample/s``.
_THROUGHPUT = re.compile(r"fps|wps|samples?/s|tokens?/s|throughput|性能", re.IGNORECASE)


def column_role(header: str) -> str:
    key = re.sub(r"[\s_]", "", header.lower())
    if key in COLUMN_ROLES:
        return COLUMN_ROLES[key]
    return "throughput" if _THROUGHPUT.search(header) else "metric"


@dataclass(frozen=True)
class Cell:
    text: str

    @property
    def is_number(self) -> bool:
        return bool(_NUMBER.match(self.text.strip()))

    @property
    def has_figure(self) -> bool:
        """A measured value of any shape: ``76.5``, ``80.2%``, ``[95.16, 93.87]``."""
        return any(c.isdigit() for c in self.text)


@dataclass(frozen=True)
class ResultRow:
    line: int
    name: str
    cards: int | None
    is_baseline: bool
    throughput: Cell | None
    metrics: dict[str, Cell | None]
    """Metric header -> its cell; None where the row writes ``-`` or nothing."""
    epochs: str = ""
    amp: str = ""
    framework: str = ""


@dataclass(frozen=True)
class ResultsTable:
    line: int
    metric_names: tuple[str, ...]
    rows: tuple[ResultRow, ...]
    problems: tuple[str, ...] = field(default=())
    """What keeps the table from being read (no NAME column, no throughput column)."""

    def cards(self) -> set[int]:
        """Card counts of the NPU rows (1 for ``1p-NPU``, 8 for ``8p-NPU``)."""
        return {r.cards for r in self.rows if r.cards is not None and not r.is_baseline}


def _cell(text: str) -> Cell | None:
    text = text.strip()
    return None if text in ("", "-", "—", "/", "N/A", "NA") else Cell(text)


def read_results_table(table: Table) -> ResultsTable:
    roles = [column_role(h) for h in table.header]
    problems = []
    if "name" not in roles and "cards" not in roles:
        problems.append("the results table has no NAME column naming each row's configuration")
    if "throughput" not in roles:
        problems.append("the results table has no throughput (FPS) column")
    metric_names = tuple(h for h, role in zip(table.header, roles, strict=True) if role == "metric")
    rows = []
    for row in table.rows:
        values = dict(zip(roles, row.cells, strict=False))
        metrics = {
            header: _cell(cell)
            for header, role, cell in zip(table.header, roles, row.cells, strict=False)
            if role == "metric" and cell.strip()  # empty: the row has no such metric
        }
        name = values.get("name", "")
        cards = None
        if values.get("cards", "").strip().isdigit():
            cards = int(values["cards"])
        elif (match := _CARDS.search(name)) is not None:
            cards = int(match.group(1))
        rows.append(
            ResultRow(
                line=row.line,
                name=name,
                cards=cards,
                is_baseline=bool(_BASELINE.search(name)),
                throughput=_cell(values.get("throughput", "")),
                metrics=metrics,
                epochs=values.get("epochs", ""),
                amp=values.get("amp", ""),
                framework=values.get("framework", ""),
            )
        )
    return ResultsTable(table.line, metric_names, tuple(rows), tuple(problems))
