"""schemas/deliverable.schema.json is exported from the model; a stale copy fails here."""

from __future__ import annotations

import json
from pathlib import Path

from modelzoo_kit.cli import main
from modelzoo_kit.metadata import SCHEMA_FILE, Deliverable, json_schema_text

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "schemas" / SCHEMA_FILE


def test_committed_schema_is_up_to_date():
    assert COMMITTED.read_text(encoding="utf-8") == json_schema_text(), (
        "run: modelzoo schema --write"
    )


def test_schema_forbids_unknown_keys_and_knows_every_field():
    schema = json.loads(json_schema_text())
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == list(Deliverable.model_fields)
    basic = schema["$defs"]["BasicInfo"]
    assert basic["additionalProperties"] is False
    assert set(basic["properties"]["precision"]["enum"]) == {"FP32", "FP16", "Mixed"}
    commit = schema["$defs"]["CodeReference"]["properties"]["commit_id"]
    assert commit["pattern"] == "^[0-9a-fA-F]{40}$"


def test_schema_command_prints_writes_and_checks(tmp_path, capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json_schema_text())
    target = tmp_path / "schema.json"
    target.write_text("{}\n", encoding="utf-8")
    assert main(["schema", "--check", "--output", str(target)]) == 1
    assert "stale" in capsys.readouterr().err
    assert main(["schema", "--write", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == json_schema_text()
    assert main(["schema", "--check", "--output", str(target)]) == 0
