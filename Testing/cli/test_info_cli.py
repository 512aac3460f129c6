"""``liverlesion info``: the model card and the runtime versions."""

from __future__ import annotations

import json

from liverlesion.cli.main import main


def test_info_prints_the_model_card_and_library_versions(untrained_model, capsys):
    assert main(["info", "--model", str(untrained_model)]) == 0
    out = capsys.readouterr().out
    assert "Model: liverlesion-untrained 0.0.0" in out
    assert "1 liver" in out and "4 metastasis" in out
    assert "numpy" in out and "onnxruntime" in out and "Licences" in out


def test_info_json_holds_the_card_fields_and_versions(untrained_model, capsys):
    assert main(["info", "--model", str(untrained_model), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["model"]["name"] == "liverlesion-untrained"
    assert document["model"]["classes"]["lesion_network_classes"] == ["none", "cyst", "hemangioma", "metastasis"]
    assert document["versions"]["numpy"]


def test_info_on_a_folder_without_a_model_exits_2_with_one_line(tmp_path, capsys):
    assert main(["info", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "model.json" in err
