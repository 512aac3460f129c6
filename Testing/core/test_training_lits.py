"""``liverlesion train --config`` on a tiny LiTS-style folder writes a checkpoint, metrics and a model package."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")


def write_lits_folder(folder):
    """Two phantoms as LiTS NIfTI pairs: segmentation 1 liver, 2 tumour (every lesion type)."""
    from liverlesion.io import write_volume
    from liverlesion.phantom import generate_phantom

    folder.mkdir()
    for number, seed in enumerate((11, 12)):
        phantom = generate_phantom(seed, shape=(16, 64, 64), n_lesions=2)
        labels = phantom.labels.array
        segmentation = np.where(labels >= 2, 2, labels).astype(np.uint8)
        write_volume(folder / f"volume-{number}.nii", phantom.ct)
        write_volume(folder / f"segmentation-{number}.nii", phantom.labels.with_array(segmentation))
    return folder


@pytest.mark.slow
def test_training_on_a_lits_folder_from_a_config_file_writes_checkpoint_metrics_and_a_loadable_package(tmp_path):
    from liverlesion.model_package import load_model_package

    lits = write_lits_folder(tmp_path / "lits")
    run_dir = tmp_path / "run"
    config = {
        "stage": "lesion",
        "method": "pretrain-finetune-freeze",
        "data": [f"lits:{lits}"],
        "epochs": 2,
        "steps_per_epoch": 2,
        "batch_size": 2,
        "patch_size": 48,
        "val_samples": 2,
        "out": str(run_dir),
        "cascade": {"lesion": {"base_channels": 8}},
        "augmentation": {"hu_shift": 60.0, "rotate_deg": 20.0},
    }
    config_path = tmp_path / "cfg.json"
    config_path.write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, "-m", "liverlesion", "train", "--config", str(config_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir / "checkpoint.pt").is_file()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1]
    assert all(np.isfinite(r["loss"]) for r in records)
    saved = json.loads((run_dir / "options.json").read_text())
    assert saved["seed"] == 0 and saved["data"] == [f"lits:{lits}"]
    assert saved["augmentation"] == {"hu_shift": 60.0, "rotate_deg": 20.0}
    package = load_model_package(run_dir / "model")
    assert package.config.lesion.base_channels == 8
    assert package.networks["lesion"]["base_channels"] == 8
    assert package.metadata["training"]["lesion"]["method"] == "pretrain-finetune-freeze"
    assert any("LiTS" in licence for licence in package.metadata["licenses"])


def test_an_unknown_data_kind_is_a_bad_input_with_exit_code_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "liverlesion", "train", "--data", "mystery:/nowhere", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "KIND:PATH" in result.stderr


def test_an_unknown_augmentation_option_in_the_config_is_refused_by_name(tmp_path):
    config_path = tmp_path / "cfg.json"
    config_path.write_text(json.dumps({"data": ["phantom:1"], "augmentation": {"hue_shift": 5}}))
    result = subprocess.run(
        [sys.executable, "-m", "liverlesion", "train", "--config", str(config_path), "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "hue_shift" in result.stderr and "hu_shift" in result.stderr
