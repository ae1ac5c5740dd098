"""deliverable.yaml errors come all at once, each with file:line:column and the field path."""

from __future__ import annotations

from pathlib import Path

import pytest
from deliverable_fixtures import FIXTURES, copy_fixture, edit_yaml

from modelzoo_kit.errors import DeliverableNotFoundError, InputFileError
from modelzoo_kit.loading import dump_deliverable, load_deliverable


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_minimal_fixture_loads():
    deliverable = load_deliverable(FIXTURES / "minimal")
    assert deliverable.name == "tiny_net"
    assert load_deliverable(FIXTURES / "minimal" / "deliverable.yaml") == deliverable


def test_every_problem_is_reported_with_line_column_and_field():
    path = FIXTURES / "broken" / "deliverable.yaml"
    with pytest.raises(InputFileError) as caught:
        load_deliverable(path)
    found = {p.field: p for p in caught.value.problems}
    expected = {
        "basic.application_domain": ("application_domain: Image", "'Classification'"),
        "basic.version": ("version: 2.1", "reserved"),
        "basic.modified": ("modified: 2021.02.30", "does not exist"),
        "basic.size": ("size: 1.3G", "write 1331M"),
        "basic.framework": ("framework: Pytroch", "has no version"),
        "basic.precision": ("precision: double", "FP32/FP16/Mixed"),
        "basic.category": ("category: Reserch", "did you mean 'Research'"),
        "basic.descripton": ("descripton:", "did you mean 'description'"),
        "overview.reference.commit_id": ("commit_id: 3d400a5", "abbreviated"),
        "overview.adapted.code_path": ("code_path: ../outside", "leaves the repository"),
        "basic.description": ("publisher: Huawei", "required field is missing"),
    }
    assert set(expected) <= set(found), sorted(found)
    for field, (needle, words) in expected.items():
        problem = found[field]
        assert problem.line == line_of(path, needle), field
        assert problem.column is not None and problem.column >= 1
        assert words in problem.message, (field, problem.message)
    text = str(caught.value)
    assert (
        f"{path}:{line_of(path, 'commit_id: 3d400a5')}:16: overview.reference.commit_id: " in text
    )
    assert "Traceback" not in text


def test_value_column_points_at_the_value(tmp_path):
    folder = copy_fixture(tmp_path)
    path = edit_yaml(
        folder, "commit_id: 3d400a58023086b5c128ecd4b3ea46c129b5988b", "commit_id: nothex"
    )
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    (problem,) = caught.value.problems
    line = path.read_text(encoding="utf-8").splitlines()[problem.line - 1]
    assert line[problem.column - 1 :].startswith("nothex")
    assert problem.field == "overview.reference.commit_id"


def test_yaml_syntax_error_has_a_position(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "  processor: 昇腾910", "  processor: [昇腾910")
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    (problem,) = caught.value.problems
    assert "YAML syntax error" in problem.message
    assert problem.line is not None and problem.line > 1


def test_duplicate_keys_are_errors_not_silently_overwritten(tmp_path):
    folder = copy_fixture(tmp_path)
    path = edit_yaml(
        folder, "  precision: Mixed\n", "  precision: Mixed\n  precision: FP32\n"
    )
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    (problem,) = caught.value.problems
    assert problem.field == "basic.precision"
    assert problem.line == line_of(path, "precision: FP32")
    assert "twice" in problem.message


@pytest.mark.parametrize(
    ("text", "message"),
    [("- a\n- b\n", "top level must be a mapping"), ("", "empty"), ("just text\n", "mapping")],
)
def test_non_mapping_roots(tmp_path, text, message):
    (tmp_path / "deliverable.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError, match=message):
        load_deliverable(tmp_path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DeliverableNotFoundError, match="modelzoo new"):
        load_deliverable(tmp_path)


def test_not_utf8(tmp_path):
    (tmp_path / "deliverable.yaml").write_bytes("name: 训练".encode("gbk"))
    with pytest.raises(InputFileError, match="not UTF-8"):
        load_deliverable(tmp_path)


def test_version_stays_as_written(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, 'version: "1.1"', "version: 1.10")
    assert load_deliverable(folder).basic.version == "1.10"


def test_null_fields_ask_to_be_filled_in(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "  publisher: Huawei", "  publisher: null")
    with pytest.raises(InputFileError, match="basic.publisher: not filled in"):
        load_deliverable(folder)


def test_union_errors_report_the_branch_that_fits_the_value(tmp_path):
    folder = copy_fixture(tmp_path)
    edit_yaml(folder, "    en: TinyNet is a small network for tests.\n", "    de: Klein\n")
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    fields = {p.field: p.message for p in caught.value.problems}
    assert fields.keys() == {"overview.summary.en", "overview.summary.de"}
    assert fields["overview.summary.en"] == "required field is missing"
    assert fields["overview.summary.de"].startswith("unknown field 'de'")


def test_checkpoint_size_is_checked_against_the_file(tmp_path):
    folder = copy_fixture(tmp_path)
    (folder / "model.pth").write_bytes(b"\0" * (300 * 1024))
    edit_yaml(folder, "  size: 888K\n", "  size: 888K\n  checkpoint: model.pth\n")
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    (problem,) = caught.value.problems
    assert problem.field == "basic.size"
    assert "300K" in problem.message
    edit_yaml(folder, "  size: 888K\n", "  size: 300K\n")
    assert load_deliverable(folder).basic.checkpoint == "model.pth"


def test_missing_checkpoint_and_training_script(tmp_path):
    folder = copy_fixture(tmp_path)
    (folder / "train.py").unlink()
    edit_yaml(folder, "  size: 888K\n", "  checkpoint: gone.pth\n")
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    assert {p.field for p in caught.value.problems} == {
        "basic.checkpoint",
        "advanced.training_script",
        "advanced.files.train.py",  # its note in the directory tree names a missing file
    }
    assert load_deliverable(folder, check_files=False).basic.checkpoint == "gone.pth"


def test_dump_round_trips(tmp_path):
    original = load_deliverable(FIXTURES / "minimal")
    text = dump_deliverable(original)
    assert text.index("basic:") < text.index("overview:") < text.index("entry_points:")
    folder = copy_fixture(tmp_path)
    (folder / "deliverable.yaml").write_text(text, encoding="utf-8")
    assert load_deliverable(folder) == original
    assert dump_deliverable(load_deliverable(folder)) == text


@pytest.mark.parametrize(
    ("flag", "message"), [("--no-such-flag", "has no parameter"), ("--data_path", "no default")]
)
def test_hyperparameter_flags_must_exist_in_the_script(tmp_path, flag, message):
    folder = copy_fixture(tmp_path)
    path = edit_yaml(folder, "    Batch size: 32\n", f"    Batch size: {{flag: {flag}}}\n")
    with pytest.raises(InputFileError) as caught:
        load_deliverable(folder)
    (problem,) = caught.value.problems
    assert problem.field == "default_config.hyperparameters.Batch size.flag"
    assert message in problem.message
    assert problem.line == line_of(path, "Batch size: {flag:")
