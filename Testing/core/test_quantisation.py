"""Int8 networks (model 1.6.0): quantising a package keeps its float32 networks as a backend, and the bundled
int8 networks give the float32 result on real CT that no stage was trained or calibrated on."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from liverlesion.cli.main import main
from liverlesion.errors import MissingDependencyError, ModelError
from liverlesion.inference.pipeline import Segmenter
from liverlesion.int8_support import INT8_ENV, int8_runs_as_validated
from liverlesion.model_package import default_model_dir, load_model_package, sha256_of
from liverlesion.phantom import generate_phantom
from liverlesion.quantisation import FP32_BACKEND, quantise_network, quantise_package
from liverlesion.volume import Volume


def _liver_dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero((a > 0) & (b > 0)) / max(1, np.count_nonzero(a > 0) + np.count_nonzero(b > 0))


@pytest.fixture(scope="module")
def float32_package(tmp_path_factory):
    """A copy of the bundled package with only its float32 networks (as before quantisation)."""
    bundled = load_model_package()
    folder = tmp_path_factory.mktemp("package") / "float32"
    shutil.copytree(bundled.folder, folder)
    card = json.loads((folder / "model.json").read_text())
    if FP32_BACKEND in card["backends"]:
        card["backends"]["onnxruntime"] = {key: value for key, value in card["backends"].pop(FP32_BACKEND).items()
                                           if key != "precision"}
        for name in list(card["files"]):
            if name.endswith(".int8.onnx"):
                del card["files"][name]
                (folder / name).unlink()
        (folder / "model.json").write_text(json.dumps(card, indent=2))
    return folder


def _phantom_ct(tmp_path, seed: int):
    from liverlesion.io import write_volume

    return write_volume(tmp_path / f"phantom{seed}.nrrd", generate_phantom(seed).ct)


@pytest.fixture(scope="module")
def quantised_copy(float32_package, tmp_path_factory):
    """``(folder, quantisation entry, sha256 of the float32 files before)``: a copy of the float32 package,
    quantised on phantom 11 (shared by the tests below: quantising takes about 10 s)."""
    scratch = tmp_path_factory.mktemp("quantised")
    folder = scratch / "package"
    shutil.copytree(float32_package, folder)
    float_hashes = {name: sha256_of(folder / name) for name in ("liver.onnx", "lesion.onnx")}
    entry = quantise_package(folder, [_phantom_ct(scratch, 11)], every=2, threads=1)
    return folder, entry, float_hashes


def test_quantising_a_package_adds_int8_networks_and_keeps_the_float32_ones_as_a_backend(quantised_copy, tmp_path):
    folder, entry, float_hashes = quantised_copy
    package = load_model_package(folder)  # every checksum verified, the new files included
    assert package.quantised
    assert {p.name for p in package.onnx_paths.values()} == {"liver.int8.onnx", "lesion.int8.onnx"}
    assert {p.name for p in package.onnx_fp32_paths.values()} == {"liver.onnx", "lesion.onnx"}
    assert {name: sha256_of(folder / name) for name in float_hashes} == float_hashes  # float32 files untouched
    assert package.precision("onnxruntime") == ("int8" if int8_runs_as_validated()[0] else "float32")
    assert package.precision(FP32_BACKEND) == package.precision("torch") == "float32"
    assert entry["calibration_cts"] == ["phantom11.nrrd"]
    assert entry["calibration_slices"]["liver"] > 0 and entry["calibration_slices"]["lesion"] > 0
    assert package.metadata["backends"]["onnxruntime"]["quantisation"] == entry

    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(package.onnx_paths["lesion"])).graph
    operators = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= operators
    int8_weights = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= 15  # every convolution's weights
    assert (folder / "lesion.int8.onnx").stat().st_size < 0.4 * (folder / "lesion.onnx").stat().st_size

    with pytest.raises(ModelError, match="already quantised"):
        quantise_package(folder, [_phantom_ct(tmp_path, 11)])


def test_an_unquantised_package_runs_the_same_files_under_both_onnx_backends(float32_package):
    package = load_model_package(float32_package)
    assert not package.quantised
    assert package.onnx_paths == package.onnx_fp32_paths
    assert package.precision("onnxruntime") == "float32"


def test_int8_and_float32_agree_on_a_phantom_the_quantiser_never_saw(quantised_copy, monkeypatch):
    monkeypatch.setenv(INT8_ENV, "1")
    folder = quantised_copy[0]
    ct = generate_phantom(12).ct
    int8_segmenter = Segmenter.load(folder, "onnxruntime", 1)
    assert int8_segmenter.predictors["lesion"].path.name == "lesion.int8.onnx"
    int8 = int8_segmenter(ct)
    float32 = Segmenter.load(folder, FP32_BACKEND, 1)(ct)
    assert _liver_dice(int8.labelmap.array, float32.labelmap.array) > 0.99
    assert int8.labelmap.array.shape == float32.labelmap.array.shape


def test_quantising_without_the_onnx_package_says_which_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx → ImportError
    with pytest.raises(MissingDependencyError) as error:
        quantise_network(default_model_dir() / "lesion.onnx", tmp_path / "out.onnx",
                         [np.zeros((1, 4, 16, 16), np.float32)])
    assert "onnx" in str(error.value) and "train" in str(error.value)
    assert not (tmp_path / "out.onnx").exists()


def test_the_bundled_package_runs_int8_networks_calibrated_on_training_cts_only():
    package = load_model_package()
    assert package.quantised
    entry = package.metadata["backends"]["onnxruntime"]["quantisation"]
    assert "3Dircadb1.7" not in entry["calibration_cts"]  # IRCAD 7 is the held-out real CT
    assert "no reduce_range" in entry["method"]


def test_a_cpu_without_vnni_runs_the_float32_networks_and_the_results_say_so(tmp_path, monkeypatch):
    import liverlesion.int8_support as support

    monkeypatch.delenv(INT8_ENV, raising=False)
    monkeypatch.setattr(support, "_cpu_check", lambda: (False, "x86_64 CPU without VNNI"))
    segmenter = Segmenter.load(None, "onnxruntime", 1)
    assert segmenter.predictors["liver"].path.name == "liver.onnx"
    assert segmenter.package.precision("onnxruntime") == "float32"

    source = _phantom_ct(tmp_path, 12)
    assert main(["segment", str(source), "-o", str(tmp_path / "out"), "--progress", "none"]) == 0
    model = json.loads((tmp_path / "out" / "lesions.json").read_text())["model"]
    assert (model["backend"], model["precision"]) == ("onnxruntime", "float32")


def test_the_int8_rule_follows_the_cpu_and_the_environment_overrides_it(monkeypatch):
    import liverlesion.int8_support as support

    monkeypatch.delenv(INT8_ENV, raising=False)
    support._cpu_check.cache_clear()
    monkeypatch.setattr(support.platform, "machine", lambda: "aarch64")
    assert support.int8_runs_as_validated()[0]
    support._cpu_check.cache_clear()
    monkeypatch.setattr(support.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(support, "_numpy_cpu_features", lambda: {"AVX2": True, "AVX512F": True, "AVX512VNNI": False})
    allowed, why = support.int8_runs_as_validated()
    assert not allowed and "VNNI" in why and INT8_ENV in why
    support._cpu_check.cache_clear()
    monkeypatch.setattr(support, "_numpy_cpu_features", lambda: {"AVX2": True, "AVX512VNNI": True})
    assert support.int8_runs_as_validated() == (True, "x86 CPU with AVX512VNNI")
    monkeypatch.setenv(INT8_ENV, "0")
    assert support.int8_runs_as_validated() == (False, f"{INT8_ENV}=0")
    support._cpu_check.cache_clear()


def test_the_command_line_records_the_precision_it_ran(tmp_path, monkeypatch):
    monkeypatch.setenv(INT8_ENV, "1")
    source = _phantom_ct(tmp_path, 12)
    for backend, precision in (("onnxruntime", "int8"), (FP32_BACKEND, "float32")):
        out = tmp_path / backend
        assert main(["segment", str(source), "-o", str(out), "--backend", backend, "--progress", "none"]) == 0
        model = json.loads((out / "lesions.json").read_text())["model"]
        assert (model["backend"], model["precision"]) == (backend, precision)


@pytest.mark.slow
def test_the_bundled_int8_networks_give_the_float32_result_on_real_held_out_ct(ircad7_liver, monkeypatch):
    """IRCAD 7: never used by any stage's training nor by the quantiser's calibration."""
    monkeypatch.setenv(INT8_ENV, "1")
    ct, liver_truth = ircad7_liver
    int8 = Segmenter.load(None, "onnxruntime", 2)(ct)
    float32 = Segmenter.load(None, FP32_BACKEND, 2)(ct)
    assert _liver_dice(int8.labelmap.array, float32.labelmap.array) > 0.995
    truth = Volume(liver_truth.astype(np.uint8), ct.spacing, ct.origin, ct.direction)
    for result in (int8, float32):
        assert _liver_dice(result.labelmap.array, truth.array) > 0.94
    shown = [(lesion.lesion_class, lesion.volume_ml) for lesion in int8.lesions]
    reference = [(lesion.lesion_class, lesion.volume_ml) for lesion in float32.lesions]
    assert [c for c, _ in shown] == [c for c, _ in reference]
    assert np.allclose([v for _, v in shown], [v for _, v in reference], rtol=0.15)
    assert len(int8.candidates) == len(float32.candidates)
