"""Browser-viewer benchmark: what a user waits for in the web viewer, against the bare pipeline in the same run.

Each repeat starts the server (``Testing/web/serve_app.py``, 127.0.0.1) and runs the scripted user session
``Testing/web/e2e.mjs`` in headless Chromium on a phantom CT (seed 7, 256×256×64): page load (navigation → every
view drew a frame), load CT, click → first progress, click → a new frame while the model runs, click → result
table, row click → views centred, paint release → new frame, Update lesions click → table updated.
Baseline in the same run: the same segmenter called directly in this process on the same CT, so the ratio
click→result / pipeline is the viewer's overhead (process hop, node creation, surfaces, rendering).
Budgets (DESIGN.md): a click answers in < 0.5 s; Segment & Classify shows progress within 1 s.

Usage: python benchmarks/bench_web.py [--repeats 1]
Model: the bundled package when present, else the real pipeline with the stand-in networks of
``Testing/web/stand_in_networks.py`` (an untrained package finds no liver).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Testing" / "web"))

TIMINGS = (
    ("page_load", "page load (all 4 views drew)", None),
    ("load_ct", "load CT by path", None),
    ("click_to_progress", "Segment & Classify click → progress", 1000),
    ("click_to_frame_while_running", "click → new frame while the model runs", 500),
    ("click_to_result", "Segment & Classify click → table", None),
    ("row_click_to_jump", "table row click → views centred", 500),
    ("paint_release_to_frame", "paint release → new frame", 500),
    ("update_lesions", "Update lesions click → table updated", None),
)


def main() -> int:
    from browser_session import missing_browser_tools, run_browser_session

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    reason = missing_browser_tools()
    if reason:
        print(f"bench_web: cannot run: {reason}")
        return 2

    from liverlesion.io import read_ct
    from liverlesion.model_package import default_model_dir, write_untrained_package
    from liverlesion.phantom import generate_phantom
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="bench-web-") as scratch:
        scratch = Path(scratch)
        ct_path = generate_phantom(7, n_lesions=3).save(scratch / "phantom") / "ct.nrrd"
        picture = scratch / "picture.png"
        Image.new("RGB", (64, 48)).save(picture)
        if (default_model_dir() / "model.json").is_file():
            from liverlesion.inference.pipeline import Segmenter

            model, package, segmenter = "bundled", None, Segmenter.load()
        else:
            from stand_in_networks import stand_in_segmenter

            package = write_untrained_package(scratch / "package")
            model, segmenter = "stand-in networks (no bundled model)", stand_in_segmenter(package)

        volume = read_ct(ct_path)
        baseline = []
        for _ in range(max(args.repeats, 1)):
            start = time.perf_counter()
            segmenter(volume, min_lesion_ml=0.5)
            baseline.append(1000 * (time.perf_counter() - start))

        runs = []
        for index in range(args.repeats):
            work = scratch / f"run{index}"
            work.mkdir()
            report = run_browser_session(ct_path, picture, work, work / "screenshots", stand_in_package=package)
            runs.append(report["timings_ms"])

    print(f"bench_web: model {model}; phantom 256×256×64; {args.repeats} repeat(s); median ms")
    print(f"  {'step':<45} {'ms':>8}  budget")
    for key, label, budget in TIMINGS:
        value = statistics.median(run[key] for run in runs)
        verdict = "" if budget is None else (f"< {budget} ok" if value < budget else f"< {budget} OVER")
        print(f"  {label:<45} {value:8.0f}  {verdict}")
    pipeline = statistics.median(baseline)
    result = statistics.median(run["click_to_result"] for run in runs)
    print(f"  {'baseline: the pipeline called directly':<45} {pipeline:8.0f}")
    print(f"  ratio click→table / pipeline: {result / pipeline:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
