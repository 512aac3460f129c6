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


def test_info_says_which_precision_the_onnxruntime_backend_runs_here(capsys, monkeypatch):
    from liverlesion.int8_support import INT8_ENV

    monkeypatch.setenv(INT8_ENV, "1")
    assert main(["info"]) == 0
    assert f"Networks (backend onnxruntime, this machine): int8 ({INT8_ENV}=1)" in capsys.readouterr().out
    monkeypatch.setenv(INT8_ENV, "0")
    assert main(["info", "--json"]) == 0
    networks = json.loads(capsys.readouterr().out)["onnxruntime_networks"]
    assert networks == {"precision": "float32", "why": f"{INT8_ENV}=0"}


def test_info_on_an_unquantised_package_says_it_has_no_int8_networks(untrained_model, capsys):
    assert main(["info", "--model", str(untrained_model), "--json"]) == 0
    networks = json.loads(capsys.readouterr().out)["onnxruntime_networks"]
    assert networks == {"precision": "float32", "why": "the package has no int8 networks"}
