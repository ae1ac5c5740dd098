"""Legacy README -> deliverable.yaml, and the round trip extract -> render -> validate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from modelzoo_kit import fieldrules
from modelzoo_kit.cli import main
from modelzoo_kit.extract import MISSING, NORMALISED, VIOLATION, extract, read_extraction
from modelzoo_kit.loading import dump_data, load_deliverable
from modelzoo_kit.readme import parse_readme, read_readme
from modelzoo_kit.render import render_folder, write_atomically
from modelzoo_kit.rules import check_deliverable_folder

FIXTURES = Path(__file__).parent / "fixtures" / "readmes"
MINIMAL = Path(__file__).parent / "fixtures" / "deliverables" / "minimal"
BASIC = ("publisher", "application_domain", "version", "modified", "size", "framework",
         "model_format", "precision", "processor", "category", "description")  # fmt: skip


def normalised_fields(text: str) -> dict[str, str]:
    fields = parse_readme(text).fields
    return {name: fieldrules.FIELD_RULES[name](fields[name].value).value for name in BASIC}


def test_every_stated_value_lands_in_the_models_shape() -> None:
    result = read_extraction(FIXTURES / "good.md")
    data = result.data
    assert data["title"] == "ResNet50 for PyTorch"
    assert data["basic"]["framework"] == "PyTorch 1.8.1"
    assert data["overview"]["reference"] == {
        "url": "https://github.com/pytorch/examples.git",
        "branch": "main",
        "commit_id": "0123456789abcdef0123456789abcdef01234567",
    }
    assert data["overview"]["adapted"]["code_path"].endswith("ResNet50_for_PyTorch")
    assert data["overview"]["paper"]["url"] == "https://arxiv.org/abs/1512.03385"
    assert data["entry_points"]["train-1p"]["command"].startswith("bash test/train_full_1p.sh")
    assert not [n for n in result.notes if n.field.startswith(("basic", "overview"))]
    # What a legacy README never states is listed, from the model itself.
    assert data["default_config"]["hyperparameters"] == {
        "Batch size": 256,
        "Learning rate(LR)": "0.1",
    }
    assert {n.field for n in result.notes if n.kind == MISSING} >= {
        "default_config.dataset",
        "transfer_learning",
    }
    assert not result.complete


@pytest.mark.parametrize(
    ("line", "field", "value", "kind"),
    [
        ("**大小（Size）：1263056KB**", "size", "1233M", VIOLATION),
        ("**大小（Size）：6.91MB**", "size", "6.91M", NORMALISED),
        ("**框架（Framework）：PyTorch_1.6.0**", "framework", "PyTorch 1.6.0", NORMALISED),
        ("**应用领域（Application Domain）：Image Classification**", "application_domain",
         "Classification", VIOLATION),
        ("**精度（Precision）：混合精度**", "precision", "Mixed", VIOLATION),
        ("**修改时间（Modified） ：2021.7.19**", "modified", "2021.07.19", NORMALISED),
    ],
)  # fmt: skip
def test_normalised_and_corrected_values_are_reported(
    line: str, field: str, value: str, kind: str
) -> None:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    label = line.split("：")[0]
    original = next(x for x in text.splitlines() if x.startswith(label))
    result = extract(parse_readme(text.replace(original, line)))
    assert result.data["basic"][field] == value
    notes = [n for n in result.notes if n.field == f"basic.{field}"]
    assert [n.kind for n in notes] == [kind]
    assert notes[0].line == text.splitlines().index(original) + 1


def test_unknown_domain_becomes_other_with_its_note() -> None:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    text = text.replace("Domain）：Classification", "Domain）：Video Enhancement")
    basic = extract(parse_readme(text)).data["basic"]
    assert (basic["application_domain"], basic["application_domain_note"]) == (
        "Other",
        "Video Enhancement",
    )


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("**版本（Version）：1.1**", "**版本（Version）：1**", "version"),
        ("**应用级别（Categories）：Research**", "**应用级别（Categories）：Demo**", "category"),
    ],
)
def test_values_with_no_single_correction_are_left_out(old: str, new: str, field: str) -> None:
    text = (FIXTURES / "good.md").read_text(encoding="utf-8").replace(old, new)
    result = extract(parse_readme(text))
    assert field not in result.data["basic"]
    assert any(n.field == f"basic.{field}" and n.kind == "unreadable" for n in result.notes)


def test_round_trip_extract_render_validate(tmp_path: Path) -> None:
    """A legacy README's values survive extract -> deliverable.yaml -> render -> validate."""
    legacy = (FIXTURES / "good.md").read_text(encoding="utf-8")
    extracted = extract(parse_readme(legacy)).data
    folder = tmp_path / "model"
    shutil.copytree(MINIMAL, folder)
    data = yaml.safe_load((folder / "deliverable.yaml").read_text(encoding="utf-8"))
    # What the legacy README states comes from extract; the rest an author writes by hand.
    data["title"] = extracted["title"]
    data["basic"] = extracted["basic"]
    for role in ("paper", "reference", "adapted"):
        data["overview"][role] = extracted["overview"][role]
    (folder / "deliverable.yaml").write_text(dump_data(data), encoding="utf-8")
    load_deliverable(folder)
    for rendered in render_folder(folder, ("zh",)):
        write_atomically(rendered.path, rendered.text)
    rendered_text = (folder / "README.md").read_text(encoding="utf-8")
    assert normalised_fields(rendered_text) == normalised_fields(legacy)
    again = read_readme(folder / "README.md")
    for role in ("reference", "adapted"):
        block = again.reference(role)
        assert block is not None
        assert {k: v.value for k, v in block.keys.items()} == extracted["overview"][role]
    findings = check_deliverable_folder(folder, "model").findings
    assert not [f for f in findings if f.rule in ("MZ303", "MZ304") or f.rule.startswith("MZ2")]


def test_rendered_readme_extracts_to_its_own_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "minimal"
    shutil.copytree(MINIMAL, folder)
    deliverable = load_deliverable(folder)
    for rendered in render_folder(folder, ("zh",)):
        write_atomically(rendered.path, rendered.text)
    result = read_extraction(folder / "README.md")
    data = result.data
    basic = deliverable.basic
    assert data["basic"]["version"] == basic.version
    assert data["basic"]["modified"] == basic.modified_text
    assert data["basic"]["framework"] == basic.framework
    assert data["overview"]["adapted"] == deliverable.overview.adapted.model_dump(mode="json")
    assert data["name"] == "minimal"
    config = deliverable.default_config
    assert data["default_config"]["dataset"] == config.dataset
    assert (
        data["default_config"]["hyperparameters"]
        == config.model_dump(mode="json")["hyperparameters"]
    )
    assert data["default_config"]["network"] == [item.zh for item in config.network]
    assert [(f["name"], f["supported"], f.get("note")) for f in data["features"]] == [
        (f.name.zh, f.supported, f.note.zh if f.note else None) for f in deliverable.features
    ]
    assert data["transfer_learning"] == {
        k: v["zh"]
        for k, v in deliverable.transfer_learning.model_dump(mode="json").items()
        if v is not None
    }
    assert result.notes == [] and result.complete

    # ... and rendering what was extracted, as it is, gives a README with the same values.
    copy = tmp_path / "again"
    shutil.copytree(MINIMAL, copy)
    (copy / "deliverable.yaml").write_text(dump_data(data), encoding="utf-8")
    load_deliverable(copy)
    for rendered in render_folder(copy, ("zh",)):
        write_atomically(rendered.path, rendered.text)
    shutil.copyfile(folder / "README.md", copy / "README.md")  # the README extract read
    findings = check_deliverable_folder(copy, "again").findings
    assert [f for f in findings if f.rule in ("MZ303", "MZ304")] == []


def test_cli_writes_the_file_once_and_lists_what_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "deliverable.yaml"
    code = main(["extract", str(FIXTURES / "mz214_size.md"), "-o", str(out)])
    assert code == 1  # incomplete: default_config etc. are not in a README
    text = out.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["basic"]["size"] == "1233M"
    # The header lists the open decisions; what was normalised on the way in goes to stderr
    # (a second extraction from the rendered README must write the same file).
    assert text.startswith("# Extracted") and "# A draft:" in text
    assert "violation" not in text
    assert "violation  basic.size" in capsys.readouterr().err
    assert main(["extract", str(FIXTURES / "good.md"), "-o", str(out)]) == 2
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["basic"]["size"] == "1233M"
    assert main(["extract", str(FIXTURES / "good.md"), "-o", str(out), "--force"]) == 1
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["basic"]["size"] == "98M"
    assert [p.name for p in tmp_path.iterdir()] == ["deliverable.yaml"]  # no temp files left


@pytest.mark.parametrize("name", ["mz002_binary.md", "absent.md"])
def test_cli_input_errors_are_one_clear_message(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", str(FIXTURES / name)]) == 2
    err = capsys.readouterr().err
    assert name in err and "Traceback" not in err


def test_cli_brings_a_readme_under_metadata_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A README with everything the template asks: extract writes a deliverable.yaml that
    loads as it is (exit 0), and validate then finds the README in sync with it."""
    folder = tmp_path / "tiny"
    shutil.copytree(MINIMAL, folder)
    for rendered in render_folder(folder):
        write_atomically(rendered.path, rendered.text)
    (folder / "deliverable.yaml").unlink()
    readme = folder / "README.md"
    assert main(["extract", str(readme), "-o", str(folder / "deliverable.yaml")]) == 0
    assert capsys.readouterr().err.strip().endswith("deliverable.yaml")  # nothing left to do
    extracted = load_deliverable(folder)
    original = load_deliverable(MINIMAL)
    # README.en.md beside README.md: prose comes back in both languages.
    assert extracted.basic.description == original.basic.description
    assert extracted.transfer_learning == original.transfer_learning
    assert extracted.entry_points == original.entry_points
    assert extracted.basic.processor == original.basic.processor  # not prose: from README.md
    assert main(["validate", str(folder), "--format", "json", "--select", "MZ3"]) in (0, 1)
    report = capsys.readouterr().out
    assert '"MZ303"' not in report and '"MZ304"' not in report


def test_unreadable_translation_is_a_note_not_a_failure(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "good.md", tmp_path / "README.md")
    shutil.copyfile(FIXTURES / "mz002_binary.md", tmp_path / "README.en.md")
    result = read_extraction(tmp_path / "README.md")
    assert result.data["basic"]["version"] == "1.1"
    assert any(n.field == "README.en.md" and "binary" in n.message for n in result.notes)


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("**大小（Size）：1.3G**", "size", "1331M"),
        ("**大小（Size）：3761KB**", "size", "3.7M"),
        ("**大小（Size）：0.5M**", "size", "512K"),
        ("**精度（Precision）：AMP**", "precision", "Mixed"),
        ("**精度（Precision）：float16**", "precision", "FP16"),
        ("**应用领域（Application Domain）：目标检测**", "application_domain", "Object Detection"),
    ],
)
def test_the_importer_writes_the_field_rules_own_correction(
    line: str, field: str, value: str
) -> None:
    """One place for each rule: extract keeps no copy of size parsing or precision hints."""
    written = line.split("：", 1)[1].rstrip("*")
    with pytest.raises(fieldrules.FieldRuleError) as raised:
        fieldrules.FIELD_RULES[field](written)
    assert raised.value.correction == value
    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    label = line.split("：")[0]
    original = next(x for x in text.splitlines() if x.startswith(label))
    assert extract(parse_readme(text.replace(original, line))).data["basic"][field] == value


def test_a_reference_code_path_is_kept_and_rendered(tmp_path: Path) -> None:
    """An upstream holding many models (mmdetection's configs/solo) names the model's folder
    by code_path, by key or by a /tree/ web address; extract keeps it (it was dropped without a
    note), render writes it back, and provenance is given it to check."""
    from modelzoo_kit.provenance import cited_sources

    text = (FIXTURES / "good.md").read_text(encoding="utf-8")
    web = "https://github.com/open-mmlab/mmdetection/tree/master/configs/solo"
    commit = "commit_id=0123456789abcdef0123456789abcdef01234567"
    assert commit in text
    by_key = text.replace(commit, f"{commit}\n    code_path=configs/solo", 1)
    (tmp_path / "key.md").write_text(by_key, encoding="utf-8")
    reference = read_extraction(tmp_path / "key.md").data["overview"]["reference"]
    assert reference["code_path"] == "configs/solo"
    by_web = text.replace("url=https://github.com/pytorch/examples.git", f"url={web}", 1)
    assert by_web != text
    (tmp_path / "web.md").write_text(by_web, encoding="utf-8")
    reference = read_extraction(tmp_path / "web.md").data["overview"]["reference"]
    assert reference["url"] == "https://github.com/open-mmlab/mmdetection.git"
    assert reference["code_path"] == "configs/solo"

    target = tmp_path / "deliverable"
    shutil.copytree(MINIMAL, target)
    data = yaml.safe_load((target / "deliverable.yaml").read_text(encoding="utf-8"))
    data["overview"]["reference"]["code_path"] = "configs/solo"
    (target / "deliverable.yaml").write_text(dump_data(data), encoding="utf-8")
    deliverable = load_deliverable(target)
    assert deliverable.overview.reference is not None
    assert cited_sources(deliverable)["reference"].code_path == "configs/solo"
    for layout_name in ("template", "pytorch-2022"):
        for rendered in render_folder(target, layout=layout_name):
            assert "code_path=configs/solo" in rendered.text, (layout_name, rendered.lang)
