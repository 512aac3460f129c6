"""``liverlesion segment``: outputs, many studies, bad inputs (exit 2, one line), cancellation (exit 130)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from liverlesion.cli.main import main
from liverlesion.io import read_volume, write_volume
from liverlesion.model_package import default_model_dir
from liverlesion.outputs import OUTPUT_NAMES
from liverlesion.volume import Volume

BUNDLED_MODEL = (default_model_dir() / "model.json").is_file()


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m liverlesion`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "liverlesion", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def a_phantom_file(tmp_path_factory) -> Path:
    from liverlesion.phantom import generate_phantom

    phantom = generate_phantom(4, shape=(24, 96, 96), n_lesions=2)
    return write_volume(tmp_path_factory.mktemp("inputs") / "phantom4.nrrd", phantom.ct)


def test_one_file_writes_every_output_into_outdir_and_prints_the_table(a_phantom_file, untrained_model, tmp_path, capsys):
    outdir = tmp_path / "result"
    code = main(["segment", str(a_phantom_file), "-o", str(outdir), "--model", str(untrained_model),
                 "--probabilities", "--progress", "none", "--threads", "1"])
    assert code == 0
    assert sorted(p.name for p in outdir.iterdir()) == sorted(OUTPUT_NAMES)
    assert "Liver volume" in capsys.readouterr().out
    labelmap = read_volume(outdir / "labelmap.nii.gz")
    assert labelmap.shape == read_volume(a_phantom_file).shape
    assert [p.name for p in tmp_path.iterdir()] == ["result"]  # no temporary folder left


def test_json_progress_prints_one_parseable_line_per_step_and_a_final_summary(a_phantom_file, untrained_model, tmp_path):
    run = cli("segment", str(a_phantom_file), "-o", str(tmp_path / "r"), "--model", str(untrained_model),
              "--progress", "json", "--threads", "1")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(lines) > 5 and all({"fraction", "message"} <= set(line) for line in lines)
    fractions = [line["fraction"] for line in lines]
    assert fractions == sorted(fractions)
    final = lines[-1]
    assert set(final["outputs"]) == {"labelmap.nii.gz", "segmentation.seg.nrrd", "lesions.json", "lesions.csv"}
    assert isinstance(final["lesions"], list) and "liver_volume_ml" in final


def test_a_folder_of_studies_gives_one_output_folder_per_study_also_in_parallel(a_phantom_file, untrained_model, tmp_path):
    studies = tmp_path / "studies"
    for name in ("patient-a", "patient-b"):
        (studies / name).mkdir(parents=True)
        shutil.copy(a_phantom_file, studies / name / "ct.nrrd")
    for jobs in ("1", "2"):
        out = tmp_path / f"out-{jobs}"
        run = cli("segment", str(studies), "-o", str(out), "--model", str(untrained_model), "--jobs", jobs,
                  "--progress", "none", "--threads", "1")
        assert run.returncode == 0, run.stderr
        assert sorted(p.name for p in out.iterdir()) == ["patient-a", "patient-b"]
        for name in ("patient-a", "patient-b"):
            assert (out / name / "lesions.json").is_file() and (out / name / "segmentation.seg.nrrd").is_file()


def test_one_bad_study_among_many_exits_2_and_the_good_ones_are_written(a_phantom_file, untrained_model, tmp_path, capsys):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a nifti at all" * 10)
    out = tmp_path / "out"
    code = main(["segment", str(a_phantom_file), str(bad), "-o", str(out), "--model", str(untrained_model),
                 "--progress", "none"])
    assert code == 2
    assert [p.name for p in out.iterdir()] == ["phantom4"]
    assert str(bad) in capsys.readouterr().err


# ---- bad inputs: exit 2, one line naming the file and the rule --------------------------------------------


def _ct(array, spacing=(0.8, 0.8, 2.0)) -> Volume:
    return Volume(np.asarray(array), spacing)


def _good_array() -> np.ndarray:
    array = np.full((8, 48, 48), -1000, dtype=np.int16)
    array[:, 10:38, 10:38] = 60
    array[4, 20, 20] = 400
    return array


def make_missing(tmp: Path) -> Path:
    return tmp / "nowhere" / "ct.nii.gz"


def make_empty_file(tmp: Path) -> Path:
    (tmp / "ct.nii.gz").write_bytes(b"")
    return tmp / "ct.nii.gz"


def make_corrupt_nifti(tmp: Path) -> Path:
    (tmp / "ct.nii.gz").write_bytes(os.urandom(4000))
    return tmp / "ct.nii.gz"


def make_truncated_nrrd(tmp: Path) -> Path:
    path = write_volume(tmp / "ct.nrrd", _ct(_good_array()), compress=False)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def make_corrupt_dicom(tmp: Path) -> Path:
    folder = tmp / "dicom"
    folder.mkdir()
    for index in range(3):
        (folder / f"{index}.dcm").write_bytes(b"\0" * 128 + b"DICM" + os.urandom(300))
    return folder


def make_2d(tmp: Path) -> Path:
    image = sitk.GetImageFromArray(_good_array()[4])
    sitk.WriteImage(image, str(tmp / "slice.nrrd"))
    return tmp / "slice.nrrd"


def make_rgb(tmp: Path) -> Path:
    image = sitk.GetImageFromArray(np.zeros((8, 48, 48, 3), dtype=np.uint8), isVector=True)
    sitk.WriteImage(image, str(tmp / "rgb.nrrd"))
    return tmp / "rgb.nrrd"


def make_not_ct(tmp: Path) -> Path:
    array = np.random.default_rng(0).integers(0, 255, (8, 48, 48)).astype(np.int16)  # MR-like, no air
    return write_volume(tmp / "mr.nrrd", _ct(array))


def make_constant(tmp: Path) -> Path:
    return write_volume(tmp / "blank.nrrd", _ct(np.zeros((8, 48, 48), dtype=np.int16)))


def make_absurd_spacing(tmp: Path) -> Path:
    return write_volume(tmp / "cm.nrrd", _ct(_good_array(), spacing=(80.0, 80.0, 2.0)))


BAD_INPUTS = [
    (make_missing, "does not exist"),
    (make_empty_file, "is empty"),
    (make_corrupt_nifti, "NIfTI"),
    (make_truncated_nrrd, "NRRD"),
    (make_corrupt_dicom, "DICOM"),
    (make_2d, "3D"),
    (make_rgb, "RGB"),
    (make_not_ct, "no air"),
    (make_constant, "constant"),
    (make_absurd_spacing, "spacing"),
]


@pytest.mark.parametrize(("make", "rule"), BAD_INPUTS, ids=[make.__name__[5:] for make, _ in BAD_INPUTS])
def test_a_bad_input_exits_2_with_one_line_naming_the_file_and_the_rule(make, rule, untrained_model, tmp_path, capsys):
    path = make(tmp_path)
    out = tmp_path / "out"
    code = main(["segment", str(path), "-o", str(out), "--model", str(untrained_model), "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err and rule in err and "Traceback" not in err
    assert not out.exists()


def test_a_model_file_that_fails_its_sha256_exits_2_naming_it(a_phantom_file, untrained_model, tmp_path, capsys):
    model = shutil.copytree(untrained_model, tmp_path / "model")
    data = bytearray((model / "liver.onnx").read_bytes())
    data[-10] ^= 0xFF
    (model / "liver.onnx").write_bytes(bytes(data))
    code = main(["segment", str(a_phantom_file), "-o", str(tmp_path / "out"), "--model", str(model)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "liver.onnx" in err and "sha256" in err
    assert not (tmp_path / "out").exists()


def test_an_output_folder_holding_other_files_is_refused_and_left_alone(a_phantom_file, untrained_model, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code = main(["segment", str(a_phantom_file), "-o", str(tmp_path), "--model", str(untrained_model)])
    assert code == 2 and "holds other files" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_debug_shows_the_traceback_of_a_bad_input(untrained_model, tmp_path):
    run = cli("segment", str(tmp_path / "missing.nrrd"), "-o", str(tmp_path / "out"), "--debug")
    assert run.returncode != 0 and "Traceback" in run.stderr


# ---- cancellation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_run_cancelled_midway_exits_130_and_leaves_no_output_folder(signal_number, untrained_model, tmp_path):
    from liverlesion.phantom import generate_phantom

    source = write_volume(tmp_path / "big.nrrd", generate_phantom(6, shape=(64, 256, 256), n_lesions=3).ct)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "liverlesion", "segment", str(source), "-o", str(out), "--model", str(untrained_model),
         "--progress", "json", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell's background job ignores SIGINT and children inherit that; give the child Python's own handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    first = process.stdout.readline()
    assert json.loads(first)["fraction"] == 0.0
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "cancelled" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.nrrd"]


# ---- real data --------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_a_real_dicom_series_runs_through_the_cli_and_writes_every_output(shared_data, untrained_model, tmp_path):
    series = shared_data / "tcia-crlm" / "CRLM-CT-1004" / "dicom"
    out = tmp_path / "crlm1004"
    run = cli("segment", str(series), "-o", str(out), "--model", str(untrained_model), "--probabilities",
              "--progress", "json")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_NAMES)
    labelmap, ct = read_volume(out / "labelmap.nii.gz"), read_volume(series)
    assert labelmap.shape == ct.shape and np.allclose(labelmap.spacing, ct.spacing, atol=1e-4)
    assert np.allclose(labelmap.direction, ct.direction, atol=1e-5)
    document = json.loads((out / "lesions.json").read_text())
    assert document["input"] == str(series) and "lesions" in document
    segmentation = sitk.ReadImage(str(out / "segmentation.seg.nrrd"))
    assert segmentation.GetMetaData("Segment0_Name") == "Liver"


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.skipif(not BUNDLED_MODEL, reason="bundled (trained) model package not present yet")
def test_the_bundled_model_finds_a_plausible_liver_in_a_real_dicom_series(shared_data, tmp_path):
    series = shared_data / "tcia-crlm" / "CRLM-CT-1004" / "dicom"
    run = cli("segment", str(series), "-o", str(tmp_path / "out"), "--progress", "json")
    assert run.returncode == 0, run.stderr
    final = json.loads(run.stdout.splitlines()[-1])
    assert 800 <= final["liver_volume_ml"] <= 3000


def test_a_corrupt_dicom_folder_prints_one_line_even_from_a_subprocess(untrained_model, tmp_path):
    """ITK writes its own warnings to the C-level stderr, which capsys cannot see: check the real process."""
    folder = make_corrupt_dicom(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "liverlesion", "segment", str(folder), "-o", str(tmp_path / "out"),
         "--model", str(untrained_model), "--progress", "none"],
        capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "DICOM" in done.stderr
