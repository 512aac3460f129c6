"""The run's warnings reach the browser viewer's status line, in real headless Chromium: a soft-kernel CT (smoother
than the training CTs: "smooth scan") and a noisy one (smoothed first: "noisy scan"), each segmented by the bundled
model through the product's server, while a CT at training noise gets neither."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.mrml]


@pytest.fixture(scope="module")
def three_cts(tmp_path_factory):
    """A data root with the demo phantom as made (noise estimate 11 HU), blurred by a soft kernel (under 7 HU) and with
    40 HU of extra scanner noise (over 12 HU)."""
    from liverlesion.evaluation.scan_variants import add_noise, smooth
    from liverlesion.inference.noise import estimate_noise_hu
    from liverlesion.io import write_volume
    from liverlesion.phantom import generate_phantom

    root = tmp_path_factory.mktemp("warnings")
    phantom = generate_phantom(7, n_lesions=4)  # the `make demo` phantom
    cts = {"as-made.nrrd": phantom.ct,
           "soft-kernel.nrrd": smooth(phantom.ct, phantom.labels, seed=0, sigma_voxels=1.0)[0],
           "noisy.nrrd": add_noise(phantom.ct, phantom.labels, seed=1, sd_hu=40.0)[0]}
    for name, ct in cts.items():
        write_volume(root / name, ct)
    estimates = {name: estimate_noise_hu(ct.array) for name, ct in cts.items()}
    assert estimates["soft-kernel.nrrd"] < 7.0 < estimates["as-made.nrrd"] < 12.0 < estimates["noisy.nrrd"], estimates
    return root, list(cts)


@pytest.fixture(scope="module")
def a_warnings_session(three_cts):
    from browser_session import CHROMIUM, missing_browser_tools
    from liverlesion.model_package import default_model_dir, load_model_package
    from viewer_server import ViewerServer

    reason = missing_browser_tools()
    if reason:
        pytest.skip(reason)
    if not (default_model_dir() / "model.json").is_file():
        pytest.skip("no bundled model package")
    config = load_model_package(default_model_dir()).config
    assert config.smooth_scan_below_hu == 7.0 and config.noise_target_hu == 12.0
    root, names = three_cts
    with ViewerServer(root / "server", data_root=root, extra_args=("--threads", "2")) as server:
        report = server.run_page_script("run_warnings.mjs", {"chromium": CHROMIUM, "paths": names})
    return {r["path"]: r for r in report["runs"]}, report


def test_a_soft_kernel_ct_is_segmented_and_the_status_line_says_it_is_smoother_than_training(a_warnings_session):
    runs, _ = a_warnings_session
    soft = runs["soft-kernel.nrrd"]
    assert not soft["error"] and soft["lesion_rows"] >= 1, soft
    assert "smooth scan (soft kernel or thick slices?)" in soft["status"] and "review every lesion closely" in soft["status"]
    assert "noisy scan" not in soft["status"]


def test_a_noisy_ct_is_segmented_and_the_status_line_says_it_was_smoothed(a_warnings_session):
    runs, _ = a_warnings_session
    noisy = runs["noisy.nrrd"]
    assert not noisy["error"] and noisy["lesion_rows"] >= 1, noisy
    assert "noisy scan" in noisy["status"] and "smooth scan" not in noisy["status"]


def test_a_ct_at_training_noise_gets_no_warning_and_the_page_logs_no_error(a_warnings_session):
    runs, report = a_warnings_session
    plain = runs["as-made.nrrd"]
    assert not plain["error"] and plain["lesion_rows"] >= 1, plain
    assert " — " not in plain["status"], plain["status"]  # warnings follow the summary after " — "
    assert report["console_errors"] == []
