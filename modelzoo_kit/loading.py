"""deliverable.yaml -> :class:`~modelzoo_kit.metadata.Deliverable`, with every error located.

A user fixing a deliverable.yaml wants the whole list at once, each with ``file:line:column`` and
the field path (``overview.reference.commit_id: …``). YAML syntax errors and duplicate keys come
from the YAML node tree; schema errors come from pydantic, whose error locations are mapped back
onto the nodes (``yaml.compose`` keeps the position of every key and value).

The YAML loader keeps floats as text, so ``version: 1.10`` stays ``"1.10"`` instead of becoming
``1.1``; pydantic turns numeric text into numbers where a field wants one. Dates stay text too and
are parsed by the template's own date rule.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from modelzoo_kit import fieldrules, layouts
from modelzoo_kit.errors import (
    EXCERPT_CHARS,
    DeliverableNotFoundError,
    InputFileError,
    InputProblem,
    excerpt,
)
from modelzoo_kit.folder import unknown_note_paths
from modelzoo_kit.inputs import MAX_YAML_BYTES, read_text
from modelzoo_kit.metadata import (
    Deliverable,
    ScriptDefault,
    Todo,
    cross_field_problems,
    todo_fields,
)
from modelzoo_kit.script_params import read_parameters

DELIVERABLE_FILE = layouts.DELIVERABLE_FILE

Loc = tuple[str | int, ...]


#: Deepest nesting of lists and mappings a deliverable.yaml may have (a real one has 5).
MAX_YAML_DEPTH = 64
#: Most nodes a deliverable.yaml may stand for once every alias is expanded (the bundled
#: deliverable has about 700): a 1 KB "billion laughs" file stands for billions.
MAX_YAML_NODES = 50_000


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves floats and timestamps as the text the user wrote, and bounds the
    document while it is composed: nesting depth, and the node count with aliases expanded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:
                size = self._sizes.get(id(target))
                if size is None:
                    raise yaml.composer.ComposerError(
                        None, None, f"alias *{event.anchor} refers to itself", event.start_mark
                    )
                self._count(size, event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested deeper than {MAX_YAML_DEPTH} levels; a deliverable.yaml needs a few",
                self.peek_event().start_mark,
            )
        before = self._expanded
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._count(1, node.start_mark if node is not None else None)
        self._sizes[id(node)] = self._expanded - before
        return node

    def _count(self, nodes: int, mark: Any) -> None:
        self._expanded += nodes
        if self._expanded > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"stands for more than {MAX_YAML_NODES} values once its aliases (*name) are "
                "expanded; write the values out or use fewer aliases",
                mark,
            )

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            value = super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:  # `!!int abc`, `!!float x`
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.tag} value {excerpt(node.value)}: {exc}", node.start_mark
            ) from None
        if isinstance(value, str) and _SURROGATE.search(value):  # "\ud800": no character
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a \\ud800-\\udfff escape is half of a UTF-16 pair, not a character; write the "
                "character itself (or \\U0001F600)",
                node.start_mark,
            )
        return value


_SURROGATE = re.compile("[\ud800-\udfff]")


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def deliverable_file(folder_or_yaml: Path) -> Path:
    """The deliverable.yaml a path means: the file itself, or the one inside a folder."""
    path = Path(folder_or_yaml)
    return path / DELIVERABLE_FILE if path.is_dir() else path


def load_deliverable(folder_or_yaml: Path, check_files: bool = True) -> Deliverable:
    """Load and validate a deliverable; raise :class:`InputFileError` listing every problem.

    With ``check_files`` the files the metadata names (checkpoint, training script) must exist
    beside it, and a written size must match the checkpoint. A draft (``draft: true``) loads
    with its open decisions (TODO values, cross-field and file problems): :func:`draft_problems`
    lists them."""
    path, text = _read_yaml(folder_or_yaml)
    deliverable, root = validated_text(path, text)
    if deliverable.draft:
        return deliverable
    problems = [
        _problem(path, root, loc, message) for loc, message in cross_field_problems(deliverable)
    ]
    if check_files:
        problems += [
            _problem(path, root, loc, message)
            for loc, message in file_problems(deliverable, path.parent)
        ]
    if problems:
        raise InputFileError(problems)
    return deliverable


def _read_yaml(folder_or_yaml: Path) -> tuple[Path, str]:
    path = deliverable_file(folder_or_yaml)
    if not path.exists() and not path.is_symlink():
        raise DeliverableNotFoundError(
            f"{path}: no such file (a deliverable folder holds a {DELIVERABLE_FILE}; "
            "`modelzoo new NAME` creates one)"
        )
    return path, read_text(path, MAX_YAML_BYTES, within=path.parent, what=DELIVERABLE_FILE)


def validated_text(path: Path, text: str) -> tuple[Deliverable, yaml.Node]:
    """deliverable.yaml text -> the model (cross-field rules not applied) and its node tree."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader checks every character up front
        raise _yaml_problem(path, exc, "YAML syntax error", text) from None
    try:
        root = _compose(loader, path)
        data = _construct(loader, root, path)
    finally:
        loader.dispose()
    draft = isinstance(data, dict) and data.get("draft") is True
    try:
        deliverable = Deliverable.model_validate(
            data, context={"defer_cross_checks": True, "draft": draft}
        )
    except ValidationError as exc:
        raise InputFileError(_pydantic_problems(exc, root, path)) from None
    return deliverable, root


def open_decisions(deliverable: Deliverable, folder: Path) -> list[tuple[Loc, str]]:
    """Everything a draft leaves its author to decide: each TODO value, then every cross-field
    rule and file check it breaks (Official/Benchmark evidence, the parameter source, entry
    points...), leaving out those a TODO already stands for. ``modelzoo extract`` writes this
    list as its file's header and ``modelzoo validate`` reports it (MZ306): one function, so the
    two cannot disagree."""
    found = list(todo_fields(deliverable))
    todo = [loc for loc, _ in found]

    def covered(loc: Loc) -> bool:
        return any(loc[: len(t)] == t or t[: len(loc)] == loc for t in todo)

    for loc, message in (*cross_field_problems(deliverable), *file_problems(deliverable, folder)):
        if not covered(loc):  # the folder's own path would make the README depend on it
            found.append((loc, message.replace(f" in {folder}", " in the deliverable folder")))
    return found


def draft_problems(
    folder_or_yaml: Path, text: str | None = None, folder: Path | None = None
) -> list[InputProblem]:
    """:func:`open_decisions` located in the file (line, column, field); ``text`` is the file's
    content when it is not written yet, ``folder`` where its files are (default: beside it)."""
    if text is None:
        path, text = _read_yaml(folder_or_yaml)
    else:
        path = deliverable_file(folder_or_yaml)
    deliverable, root = validated_text(path, text)
    decisions = open_decisions(deliverable, folder if folder is not None else path.parent)
    located = [_problem(path, root, loc, message) for loc, message in decisions]
    return sorted(located, key=lambda p: (p.line or 0, p.column or 0))


def file_problems(deliverable: Deliverable, folder: Path) -> list[tuple[Loc, str]]:
    """What is wrong between the metadata and the files of the folder it describes."""
    problems: list[tuple[Loc, str]] = []
    basic = deliverable.basic
    if basic.checkpoint is not None:
        checkpoint = folder / basic.checkpoint
        if not checkpoint.is_file():
            problems.append((("basic", "checkpoint"), f"no file {basic.checkpoint} in {folder}"))
        elif basic.size is not None:
            nbytes = checkpoint.stat().st_size
            if not fieldrules.size_matches(basic.size, nbytes):
                problems.append(
                    (
                        ("basic", "size"),
                        f"says {basic.size} but {basic.checkpoint} is "
                        f"{fieldrules.format_size(nbytes)} ({nbytes} bytes); remove size to "
                        "derive it, or correct it",
                    )
                )
    elif basic.size is None:
        problems.append(
            (("basic", "size"), "give the checkpoint size, or name the checkpoint to derive it")
        )
    advanced = deliverable.advanced
    for path in unknown_note_paths(folder, advanced.files, advanced.tree_exclude):
        problems.append(
            (
                ("advanced", "files", path),
                "names no file of the deliverable (or one tree_exclude leaves out); "
                "remove or rename the note",
            )
        )
    script = deliverable.advanced.training_script
    if isinstance(script, Todo):
        return problems
    if not (folder / script).is_file():
        problems.append(
            (
                ("advanced", "training_script"),
                f"no file {script} in {folder}; the README lists its parameters",
            )
        )
        return problems
    defaults = script_defaults(folder / script, folder)
    hyperparameters = deliverable.default_config.hyperparameters
    for name, value in hyperparameters.items() if isinstance(hyperparameters, dict) else ():
        if isinstance(value, ScriptDefault) and defaults.get(value.flag) is None:
            known = value.flag in defaults
            problems.append(
                (
                    ("default_config", "hyperparameters", name, "flag"),
                    f"{script} {'gives no default for' if known else 'has no parameter'} "
                    f"{value.flag}",
                )
            )
    return problems


def script_defaults(script: Path, within: Path | None = None) -> dict[str, str | None]:
    """Every flag of the training script -> its default as source text (None: no default)."""
    defaults: dict[str, str | None] = {}
    for parameter in read_parameters(script, within):
        for flag in parameter.flags:
            defaults[flag] = parameter.default
    return defaults


# --------------------------------------------------------------------------- YAML nodes


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of a YAML text, bounded as :class:`_Loader` bounds it (``yaml.YAMLError``
    for a text that is no YAML or too large once expanded)."""
    loader = _Loader(text)  # a ReaderError here is a yaml.YAMLError too
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _yaml_problem(
    path: Path, exc: yaml.YAMLError, kind: str, text: str = ""
) -> InputFileError:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "a byte"
        return InputFileError([InputProblem(path, line, column, "", (
            f"{kind}: character {code} is not allowed in YAML; remove it"))])
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid"
        return InputFileError(
            [
                InputProblem(
                    path,
                    mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None,
                    "",
                    f"{kind}: {message}",
                )
            ]
        )
    return InputFileError([InputProblem(path, None, None, "", f"YAML error: {excerpt(str(exc))}")])


def _construct(loader: _Loader, root: yaml.Node, path: Path) -> Any:
    try:
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise _yaml_problem(path, exc, "YAML value error") from None


def _compose(loader: _Loader, path: Path) -> yaml.Node:
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _yaml_problem(path, exc, "YAML syntax error") from None
    if root is None:
        raise InputFileError([InputProblem(path, 1, 1, "", "the file is empty")])
    if not isinstance(root, yaml.MappingNode):
        raise InputFileError(
            [_at(path, root, "", "the top level must be a mapping of field: value")]
        )
    problems = list(_key_problems(path, root, ()))
    if problems:
        raise InputFileError(problems)
    return root


def _key_problems(path: Path, node: yaml.Node, loc: Loc) -> typing.Iterator[InputProblem]:
    """Keys that are not plain text (``? [a]: b``) or are given twice."""
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                yield _at(path, key, _dotted(loc), "a key must be plain text, not a list or "
                          "mapping; write `name: value`")  # fmt: skip
                continue
            if key.value in seen:
                yield _at(path, key, _dotted((*loc, key.value)),
                          f"key {excerpt(key.value)} is given twice; keep one")  # fmt: skip
            seen.add(key.value)
            yield from _key_problems(path, value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _key_problems(path, item, (*loc, index))


def _at(path: Path, node: yaml.Node, field: str, message: str) -> InputProblem:
    mark = node.start_mark
    return InputProblem(path, mark.line + 1, mark.column + 1, field, message)


#: Longest key a field path shows whole: a path names the field, it does not quote the file.
_KEY_CHARS = 40


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key = str(part) if len(str(part)) <= _KEY_CHARS else f"{str(part)[:_KEY_CHARS]}…"
        text += f".{key}" if text else key
    return text


def _resolve(root: yaml.Node, loc: Loc) -> tuple[yaml.Node, Loc, list[tuple[str, yaml.Node]]]:
    """Follow ``loc`` down the node tree as far as it goes.

    Returns the deepest node reached, the part of
    ``loc`` that names real keys and indices, and the union branch tags pydantic put in ``loc``
    with the node each one applied to."""
    node = root
    path: list[str | int] = []
    tags: list[tuple[str, yaml.Node]] = []
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == part), None)
            if found is not None:
                node = found[1]
                path.append(part)
                continue
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
                path.append(part)
                continue
        if isinstance(part, str) and _looks_like_tag(part):
            tags.append((part, node))
            continue
        path.append(part)  # a missing key: point at its parent
        break
    return node, tuple(path), tags


def _looks_like_tag(part: str) -> bool:
    return bool(re.match(r"^[A-Z][A-Za-z]*$|^[a-z-]+\[|^(str|int|float|bool|none)$", part))


def _tag_fits(tag: str, node: yaml.Node) -> bool:
    if re.match(r"^[A-Z][A-Za-z]*$", tag) or tag.startswith("dict["):
        return isinstance(node, yaml.MappingNode)
    if tag.startswith("list["):
        return isinstance(node, yaml.SequenceNode)
    return isinstance(node, yaml.ScalarNode)


def _problem(path: Path, root: yaml.Node, loc: Loc, message: str) -> InputProblem:
    node, real, _ = _resolve(root, loc)
    return _at(path, node, _dotted(real), message)


def _pydantic_problems(exc: ValidationError, root: yaml.Node, path: Path) -> list[InputProblem]:
    problems: list[InputProblem] = []
    fallback: dict[str, InputProblem] = {}
    seen: set[tuple[str, str]] = set()
    for error in exc.errors():
        loc = tuple(error["loc"])
        node, real, tags = _resolve(root, loc)
        field = _dotted(real)
        message = _message(error, real)
        problem = _at(path, _key_or_value(root, real, error["type"]) or node, field, message)
        if tags and not all(_tag_fits(tag, tagged) for tag, tagged in tags):
            fallback.setdefault(field, problem)  # a union branch that does not fit the value
            continue
        if (field, message) not in seen:
            seen.add((field, message))
            problems.append(problem)
    problems += [
        p
        for field, p in fallback.items()
        if not any(r.field == field or r.field.startswith(f"{field}.") for r in problems)
    ]
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.field))


def _key_or_value(root: yaml.Node, real: Loc, error_type: str) -> yaml.Node | None:
    """Unknown keys point at the key itself; missing keys at the mapping that lacks them."""
    if error_type == "extra_forbidden" and real:
        parent, _, _ = _resolve(root, real[:-1])
        if isinstance(parent, yaml.MappingNode):
            for key, _value in parent.value:
                if key.value == real[-1]:
                    return key
    if error_type == "missing" and real:
        parent, _, _ = _resolve(root, real[:-1])
        return parent
    return None


def _message(error: Any, real: Loc) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        known = _known_fields(real[:-1])
        close = difflib.get_close_matches(str(real[-1]), known, n=1, cutoff=0.6)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        else:
            hint = f"; known fields: {', '.join(known)}" if known else ""
        return f"unknown field {excerpt(real[-1])}{hint}"
    if error.get("input", ...) is None:
        return "not filled in (null); write a value"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    value = error.get("input")
    if isinstance(value, str) and len(value) > EXCERPT_CHARS:  # a rule quoting the whole value
        message = message.replace(repr(value), excerpt(value)).replace(value, excerpt(value))
    if kind in ("literal_error", "enum") or kind.endswith("_type") or kind.endswith("_parsing"):
        message += f" (got {excerpt(error.get('input'))})"
    return message


def _known_fields(loc: Loc) -> list[str]:
    """The field names a model at ``loc`` accepts, for 'did you mean' hints."""
    model: Any = Deliverable
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if _is_model(model) else None
        if field is None:
            return []
        model = next((m for m in _models_in(field.annotation)), None)
        if model is None:
            return []
    return list(model.model_fields) if _is_model(model) else []


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _models_in(annotation: Any) -> typing.Iterator[type[BaseModel]]:
    if _is_model(annotation):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is dict:
        args = typing.get_args(annotation)
        yield from _models_in(args[1] if len(args) == 2 else None)
        return
    if origin in (list, typing.Union, types.UnionType, typing.Annotated) or origin is None:
        for arg in typing.get_args(annotation):
            yield from _models_in(arg)


# --------------------------------------------------------------------------- dumping


class _Dumper(yaml.SafeDumper):
    """Block style, literal blocks for multi-line text, keys in the model's order."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def dump_data(data: dict[str, Any]) -> str:
    """YAML text for plain data in the order given (what ``new`` and ``extract`` write)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2)


def dump_deliverable(deliverable: Deliverable) -> str:
    """deliverable.yaml text for a deliverable: stable order (the model's), unset fields left out.

    ``load_deliverable`` of the result gives back an equal deliverable."""
    data = deliverable.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    data["basic"]["modified"] = deliverable.basic.modified_text
    return dump_data(data)
