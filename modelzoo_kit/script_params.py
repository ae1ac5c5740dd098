"""A training script's parameters (argparse, absl / ``tf.flags``, click), read with :mod:`ast`.

The README's parameter table must say what the script really accepts, but importing the script
would import torch (seconds, and a dependency the kit does not have). Deliverables build their
parser with literal ``add_argument`` calls, so reading those calls is exact: flags, type, default,
choices, whether required, and the help text. TensorFlow scripts define flags with absl
(``flags.DEFINE_integer("batch_size", 32, "...")``, also as ``tf.flags`` / ``tf.app.flags``) and
some scripts with click decorators (``@click.option("--lr", default=0.1)``); those are read the
same way. A value that is not a literal (``default=os.cpu_count()``) is shown as its source
text.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from modelzoo_kit.errors import InputFileError, InputProblem
from modelzoo_kit.inputs import MAX_SOURCE_BYTES, read_text


@dataclass(frozen=True)
class ScriptParameter:
    """One ``add_argument`` call."""

    flags: tuple[str, ...]
    help: str
    default: str | None  # source text of the default, None when there is none
    type: str | None
    choices: tuple[str, ...]
    required: bool
    action: str | None
    line: int
    group: str | None = None  # the argument group's title, when the parser has groups

    @property
    def name(self) -> str:
        """The first long flag (``--batch_size`` rather than ``-b``), or the positional name."""
        return next((f for f in self.flags if f.startswith("--")), self.flags[0])

    @property
    def is_switch(self) -> bool:
        return self.action in ("store_true", "store_false", "BooleanOptionalAction")


def read_parameters(script: Path, within: Path | None = None) -> list[ScriptParameter]:
    """Every ``add_argument`` call in ``script``, in source order.

    ``within`` is the deliverable folder the script must stay inside (default: its own folder).
    Raises :class:`InputFileError` (with the line) when the script does not parse or a flag is
    not a literal string."""
    source = read_text(
        script, MAX_SOURCE_BYTES, within=script.parent if within is None else within,
        what="training script",
    )
    try:
        tree = ast.parse(source, filename=str(script))
    except RecursionError:
        raise InputFileError(
            [InputProblem(script, None, None, "", "nested too deeply for Python to parse")]
        ) from None
    except (SyntaxError, ValueError) as exc:
        if not isinstance(exc, SyntaxError):  # a NUL byte
            raise InputFileError(
                [InputProblem(script, None, None, "", f"not Python source: {exc}")]
            ) from None
        raise InputFileError(
            [InputProblem(script, exc.lineno, exc.offset, "", f"Python syntax error: {exc.msg}")]
        ) from None
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
    ]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    groups = _argument_groups(tree)
    parameters = []
    for call in calls:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "add_argument" and isinstance(call.func, ast.Attribute):
            receiver = call.func.value
            group = groups.get(receiver.id) if isinstance(receiver, ast.Name) else None
            parameters.append(_parameter(script, call, group))
        elif name in _ABSL_TYPES:
            found = _absl_flag(call, name)
            if found is not None:
                parameters.append(found)
        elif name in ("option", "argument") and _is_click(call.func):
            found = _click_parameter(call, name)
            if found is not None:
                parameters.append(found)
    return parameters


#: absl / ``tf.flags`` / ``tf.app.flags`` definitions -> the type of their value.
_ABSL_TYPES = {
    "DEFINE_string": "str", "DEFINE_integer": "int", "DEFINE_float": "float",
    "DEFINE_boolean": "bool", "DEFINE_bool": "bool", "DEFINE_enum": "str",
    "DEFINE_list": "list", "DEFINE_multi_string": "str", "DEFINE_multi_integer": "int",
}  # fmt: skip


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    found = next((k.value for k in call.keywords if k.arg == keyword), None)
    if found is None and len(call.args) > position:
        found = call.args[position]
    return found


def _absl_flag(call: ast.Call, kind: str) -> ScriptParameter | None:
    """``flags.DEFINE_integer("batch_size", 32, "help")`` (absl, ``tf.flags``) as a parameter;
    None when the name is not a literal."""
    name = _argument(call, 0, "name")
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    default = _argument(call, 1, "default")
    enum = _argument(call, 2, "enum_values") if kind == "DEFINE_enum" else None
    help_node = _argument(call, 3 if kind == "DEFINE_enum" else 2, "help")
    choices: tuple[str, ...] = ()
    if isinstance(enum, ast.List | ast.Tuple):
        choices = tuple(_source(element) for element in enum.elts)
    no_default = default is None or (isinstance(default, ast.Constant) and default.value is None)
    return ScriptParameter(
        flags=(f"--{name.value}",),
        help=_text(help_node) or "",
        default=None if no_default or default is None else _source(default),
        type=_ABSL_TYPES[kind],
        choices=choices,
        required=False,
        action=None,
        line=call.lineno,
    )


def _is_click(func: ast.expr) -> bool:
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "click"
    )


def _click_parameter(call: ast.Call, kind: str) -> ScriptParameter | None:
    """``@click.option("--lr", default=0.1, help=...)`` or ``@click.argument("data")``."""
    names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    flags = [n.split("/")[0] for n in names if n.startswith("-")] if kind == "option" else names[:1]
    if not flags:
        return None
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    default = keywords.get("default")
    flag = keywords.get("is_flag")
    is_flag = isinstance(flag, ast.Constant) and flag.value is True
    required = keywords.get("required")
    no_default = default is None or (isinstance(default, ast.Constant) and default.value is None)
    return ScriptParameter(
        flags=tuple(flags),
        help=_text(keywords.get("help")) or "",
        default="False" if is_flag and no_default else (None if no_default or default is None
                                                          else _source(default)),  # fmt: skip
        type=_source(keywords["type"]) if "type" in keywords else None,
        choices=(),
        required=kind == "argument"
        or (isinstance(required, ast.Constant) and required.value is True),
        action="store_true" if is_flag else None,
        line=call.lineno,
    )


def _argument_groups(tree: ast.AST) -> dict[str, str]:
    """``data = parser.add_argument_group("data")`` -> ``{"data": "data"}``."""
    groups = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr in ("add_argument_group", "add_mutually_exclusive_group")
        ):
            args = node.value.args
            title = next(
                (k.value for k in node.value.keywords if k.arg == "title"),
                args[0] if args else None,
            )
            if isinstance(title, ast.Constant) and isinstance(title.value, str):
                groups[node.targets[0].id] = title.value
    return groups


def _parameter(script: Path, call: ast.Call, group: str | None) -> ScriptParameter:
    flags = []
    for arg in call.args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            raise InputFileError(
                [
                    InputProblem(
                        script,
                        call.lineno,
                        call.col_offset + 1,
                        "",
                        "add_argument flags must be literal strings so the kit can read them",
                    )
                ]
            )
        flags.append(arg.value)
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    action = _text(keywords.get("action"))
    default = keywords.get("default")
    if default is None and action in ("store_true", "store_false"):
        default_text: str | None = "False" if action == "store_true" else "True"
    elif default is None or (isinstance(default, ast.Constant) and default.value is None):
        default_text = None
    else:
        default_text = _source(default)
    if action == "BooleanOptionalAction":
        flags += [f"--no-{flag[2:]}" for flag in flags if flag.startswith("--")]
    choices_node = keywords.get("choices")
    choices: tuple[str, ...] = ()
    if isinstance(choices_node, ast.List | ast.Tuple | ast.Set):
        choices = tuple(_source(element) for element in choices_node.elts)
    elif choices_node is not None:
        choices = (_source(choices_node),)
    required = keywords.get("required")
    is_required = (isinstance(required, ast.Constant) and required.value is True) or not flags[
        0
    ].startswith("-")
    return ScriptParameter(
        flags=tuple(flags),
        help=_text(keywords.get("help")) or "",
        default=default_text,
        type=_source(keywords["type"]) if "type" in keywords else None,
        choices=choices,
        required=is_required,
        action=action,
        line=call.lineno,
        group=group,
    )


def _text(node: ast.expr | None) -> str | None:
    """A string literal's value; other expressions as source (``argparse.BooleanOptionalAction``
    becomes its last name)."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr | ast.BinOp):
        return _source(node)
    if isinstance(node, ast.Attribute):
        return node.attr
    return _source(node)


def _source(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ast.unparse(node)
