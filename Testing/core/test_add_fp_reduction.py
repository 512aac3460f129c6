"""Putting a trained false-positive reduction stage into a model package (fp_filter.add_fp_reduction)."""

from __future__ import annotations

import json
import shutil

from liverlesion.classifier.fp_filter import CandidateFilter, add_fp_reduction
from liverlesion.model_package import MODEL_JSON, default_model_dir, load_model_package


def test_an_ensemble_without_torch_weights_replaces_the_stage_and_its_stale_weights_leave_the_package(tmp_path):
    package = tmp_path / "package"
    shutil.copytree(default_model_dir(), package)
    single = tmp_path / "single"  # what `fp_train fit` writes: ONNX, JSON and the torch weights
    single.mkdir()
    for name in ("fp_filter.onnx", "fp_filter.json"):
        shutil.copyfile(package / name, single / name)
    shutil.copyfile(package / "classifier.pt", single / "fp_filter.pt")  # a real torch file stands in
    add_fp_reduction(package, single)
    assert "fp_filter.pt" in json.loads((package / MODEL_JSON).read_text())["files"]
    ensemble = tmp_path / "ensemble"  # what `fp_train ensemble` writes: one ONNX graph and its JSON, no .pt
    ensemble.mkdir()
    shutil.copyfile(package / "fp_filter.onnx", ensemble / "fp_filter.onnx")
    meta = json.loads((package / "fp_filter.json").read_text())
    meta["threshold"], meta["temperature"] = 0.87, 1.14
    (ensemble / "fp_filter.json").write_text(json.dumps(meta))

    entry = add_fp_reduction(package, ensemble, metrics={"note": "test"})

    assert entry["files"] == {"onnx": "fp_filter.onnx", "json": "fp_filter.json"}
    assert not (package / "fp_filter.pt").exists()
    card = json.loads((package / MODEL_JSON).read_text())
    assert "fp_filter.pt" not in card["files"]
    loaded = load_model_package(package)  # verifies every listed file's sha256
    stage = CandidateFilter.from_package(loaded)
    assert (stage.threshold, stage.temperature) == (0.87, 1.14)
