"""Sizes and write times of seg.dcm (DICOM SEG) and sr.dcm (TID 1500) against the NIfTI + .seg.nrrd outputs.

For each DICOM series: read it, segment it once (bundled model, onnxruntime, not timed), then time — best of
``--repeats`` — (a) the baseline, ``write_outputs`` without DICOM objects (labelmap.nii.gz, segmentation.seg.nrrd,
lesions.json/.csv), (b) building and writing seg.dcm and sr.dcm (headers read, SEG, SR), and (c) reading the SEG
back into a labelmap. Prints sizes, seconds and the ratio DICOM / baseline.

Series: TCIA CRLM-CT-1004 (41 slices, real DICOM) and IRCAD 3Dircadb1.7's ct.nrrd cut to 512×512×150 and written
as a DICOM CT series into a temporary folder.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_dicom_results.py [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LIVERLESION_SHARED_DATA", REPO.parent / "shared" / "data"))


def ircad7_series(folder: Path) -> Path:
    """IRCAD 7's CT, first 150 slices (512×512×150), as a DICOM series in ``folder``."""
    from liverlesion.dicom_objects.ct_series import write_ct_series
    from liverlesion.io import read_volume
    from liverlesion.volume import Volume

    ct = read_volume(DATA / "ircad/3Dircadb1.7/ct.nrrd")
    write_ct_series(Volume(ct.array[:150], ct.spacing, ct.origin, ct.direction), folder, patient_id="IRCAD7")
    return folder


def best_of(repeats: int, action) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(name: str, series: Path, segmenter, repeats: int, scratch: Path) -> None:
    from liverlesion.dicom_objects.reading import labelmap_from_seg
    from liverlesion.dicom_objects.source_series import read_source_series
    from liverlesion.dicom_objects.writing import write_dicom_results
    from liverlesion.io import read_ct
    from liverlesion.outputs import write_outputs

    ct = read_ct(series)
    result = segmenter(ct)
    model = {"name": segmenter.package.name, "version": segmenter.package.version, "backend": "onnxruntime"}
    counter = iter(range(10**6))

    def baseline():
        write_outputs(scratch / f"{name}-base-{next(counter)}", result, source=str(series), model=model)

    base_seconds = best_of(repeats, baseline)
    base_folder = scratch / f"{name}-base-0"
    base_bytes = sum(p.stat().st_size for p in base_folder.iterdir())
    dicom_folder = scratch / f"{name}-dicom"
    dicom_folder.mkdir()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        written = write_dicom_results(dicom_folder, result, series, model)
        runs.append((time.perf_counter() - start, written))
    dicom_seconds, written = min(runs, key=lambda run: run[0])
    uids = [ds.SOPInstanceUID for ds in read_source_series(series).datasets]
    read_seconds = best_of(repeats, lambda: labelmap_from_seg(dicom_folder / "seg.dcm", uids))
    z, y, x = ct.shape
    print(f"\n{name}: {x}x{y}x{z}, {len(result.lesions)} lesion(s), liver {result.liver_volume_ml:.0f} mL")
    print(f"  baseline (nii.gz + seg.nrrd + json/csv): {base_bytes / 1e6:7.2f} MB  {base_seconds:6.2f} s")
    for file in ("seg.dcm", "sr.dcm"):
        print(f"  {file:<40} {written.sizes[file] / 1e6:7.2f} MB  {written.seconds[file]:6.2f} s")
    print(f"  headers read: {written.seconds['read_headers']:.2f} s; SEG+SR total {dicom_seconds:.2f} s "
          f"= {dicom_seconds / base_seconds:.2f}x the baseline; SEG read back to a labelmap {read_seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from liverlesion.inference.pipeline import Segmenter

    segmenter = Segmenter.load(None, "onnxruntime", args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-dicom-") as scratch:
        scratch = Path(scratch)
        measure("CRLM-CT-1004", DATA / "tcia-crlm/CRLM-CT-1004/dicom", segmenter, args.repeats, scratch)
        measure("IRCAD7-150", ircad7_series(scratch / "ircad7"), segmenter, args.repeats, scratch)


if __name__ == "__main__":
    main()
