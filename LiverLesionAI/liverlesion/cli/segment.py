"""``liverlesion segment INPUT… -o OUTDIR``: the pipeline on one study or many, outputs written atomically.

One study → its files in OUTDIR. Several (many inputs, or a folder of studies) → OUTDIR/<study name>/ each;
``--jobs N`` runs N studies at a time, each in its own process. Exit codes: 0 success, 2 bad input (one line
naming the file and the rule), 1 internal error, 130 cancelled (Ctrl-C / SIGTERM; no output folder is left
half-written).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..backends import BACKENDS
from ..errors import CancelledError, InvalidInputError, LiverLesionError, ModelError
from ..inference.predictor import default_threads
from ..progress import sub_progress
from . import pacs
from .exit_codes import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK
from .progress_display import MODES, JsonLines, make_display
from .studies import Study

EPILOG = """\
examples:
  liverlesion segment ct.nii.gz -o result/
  liverlesion segment /data/CRLM-CT-1004/dicom -o result/ --probabilities
  liverlesion segment /data/studies/ -o results/ --jobs 2 --threads 1     (one sub-folder per study)
  LIVERLESION_DICOMWEB_PASSWORD=... liverlesion segment --dicomweb-user me \
      https://pacs/dicom-web/studies/<StudyInstanceUID> -o result/ --store-to https://pacs/dicom-web

outputs (per study): labelmap.nii.gz (0 background, 1 liver, 2 cyst, 3 hemangioma, 4 metastasis; input grid),
segmentation.seg.nrrd (Slicer segmentation: "Liver" + "Lesion N — <class>"), lesions.json, lesions.csv,
and with --probabilities probabilities.nrrd (uint8 class probabilities x255 around the liver).
DICOM inputs (folders, slices, DICOMweb URLs) also give seg.dcm (DICOM SEG: liver + one segment per lesion) and
sr.dcm (TID 1500 measurement report); --store-to sends both to a PACS.
"""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``segment`` on the dispatcher's subparsers."""
    parser = subparsers.add_parser(
        "segment",
        help="segment the liver and lesions in CT and classify each lesion",
        description="Segment the liver and liver lesions in CT volumes (NIfTI, NRRD, MetaImage files or DICOM "
        "series folders) and classify each lesion as cyst, hemangioma or metastasis.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="CT file, DICOM folder, folder of studies, or DICOMweb study/series URL")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created)")
    parser.add_argument("--backend", choices=BACKENDS, default="onnxruntime",
                        help="inference backend (default: onnxruntime, on the int8 networks of a quantised package; "
                        "onnxruntime-fp32: its float32 networks)")
    parser.add_argument("--threads", type=positive_int, help="CPU threads per study (default: all CPUs / jobs)")
    parser.add_argument("--min-lesion-ml", type=non_negative_float, help="drop lesions smaller than this (mL; default: the model's)")
    parser.add_argument("--probabilities", action="store_true", help="also write probabilities.nrrd")
    parser.add_argument("--show-candidates", action="store_true",
                        help="also list the low-confidence candidates (under the false-positive reduction "
                        "threshold; always in lesions.json under \"candidates\") in the printed table")
    parser.add_argument("--progress", choices=MODES, default="auto", help="progress display (default: a bar on a terminal)")
    parser.add_argument("--jobs", type=positive_int, default=1, help="studies processed in parallel (default 1)")
    parser.add_argument("--model", metavar="DIR", help="model package folder (default: the bundled model)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    pacs.add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Segment every study the inputs name; returns the exit code."""
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="liverlesion-dicomweb-") as downloads:
            say = _say if args.progress != "json" else (lambda text: None)
            studies = pacs.discover_inputs(args.inputs, Path(downloads), pacs.credentials_of(args), say)
            pacs.check_store_to(args, studies)
            output = Path(args.output)
            if len(studies) == 1:
                return _run_single(studies[0], output, args)
            if args.jobs > 1:
                return _run_parallel(studies, output, args)
            return _run_sequential(studies, output, args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _load_segmenter(args: argparse.Namespace, threads: int | None):
    from ..inference.pipeline import Segmenter

    return Segmenter.load(args.model, args.backend, threads)


def segment_study(study: Study, outdir: Path, segmenter, args: argparse.Namespace, progress) -> dict[str, Any]:
    """Read, segment and write one study; returns the summary (outputs, liver volume, lesions, warnings)."""
    from ..io import read_ct
    from ..outputs import write_outputs

    warnings: list[str] = []
    start = time.perf_counter()
    progress(0.0, f"Reading {study.path}")
    volume = read_ct(study.path, warn=warnings.append)
    read_seconds = time.perf_counter() - start
    result = segmenter(
        volume,
        min_lesion_ml=args.min_lesion_ml,
        with_probabilities=args.probabilities,
        progress=sub_progress(progress, 0.05, 0.95),
    )
    result.timings = {"read": read_seconds, **result.timings}
    result.warnings = warnings + result.warnings
    progress(0.95, "Writing outputs")
    model = {
        "name": segmenter.package.name,
        "version": segmenter.package.version,
        "backend": args.backend,
        "precision": segmenter.package.precision(args.backend),
        "class_decision": segmenter.package.class_decision,
        "lesion_classifier": getattr(segmenter, "classifier", None) is not None,
    }
    dicom_source = study.path if pacs.is_dicom_input(study.path) else None
    paths = write_outputs(outdir, result, with_probabilities=args.probabilities, source=study.origin or str(study.path),
                          model=model, dicom_source=dicom_source)
    stored = pacs.store_results(args, paths, progress)
    if getattr(args, "store_to", None) and not stored:
        result.warnings.append(f"nothing sent to {args.store_to}: no DICOM SEG / SR was written")
    progress(1.0, "Done")
    return {
        "study": study.name,
        "outputs": {name: str(path) for name, path in paths.items()},
        **({"stored": stored} if stored else {}),
        "liver_volume_ml": round(result.liver_volume_ml, 2),
        "lesions": [_lesion_summary(lesion) for lesion in result.lesions],
        "warnings": result.warnings,
        "seconds": round(time.perf_counter() - start, 2),
        "candidates": [_lesion_summary(lesion) for lesion in result.candidates],
        "table": _table(result, getattr(args, "show_candidates", False)),
    }


def _lesion_summary(lesion) -> dict[str, Any]:
    return {
        "id": lesion.id,
        "class": lesion.lesion_class,
        "confidence": round(lesion.confidence, 4),
        "volume_ml": round(lesion.volume_ml, 3),
        "long_axis_mm": round(lesion.long_axis_mm, 1),
        "lesion_probability": lesion.lesion_probability,
    }


def _table(result, show_candidates: bool = False) -> str:
    from ..report import format_lesion_table

    return format_lesion_table(result, show_candidates)


def _run_single(study: Study, outdir: Path, args: argparse.Namespace) -> int:
    display = make_display(args.progress)
    try:
        segmenter = _load_segmenter(args, args.threads)
        summary = segment_study(study, outdir, segmenter, args, display)
    except BaseException:
        display.finish()
        raise
    table = summary.pop("table")
    display.finish(summary)
    if not isinstance(display, JsonLines):
        sent = "".join(f"\nSent {len(uids)} objects (SEG, SR) to {url}" for url, uids in summary.get("stored", {}).items())
        _say(f"{table}\nOutputs: {outdir}{sent}")
    return EXIT_OK


def _run_sequential(studies: list[Study], output: Path, args: argparse.Namespace) -> int:
    display = make_display(args.progress)
    segmenter = _load_segmenter(args, args.threads)
    summaries, codes = [], []
    for index, study in enumerate(studies):
        progress = sub_progress(display, index / len(studies), (index + 1) / len(studies))
        label = f"[{index + 1}/{len(studies)}] {study.name}"
        try:
            summary = segment_study(study, output / study.name, segmenter, args, _prefixed(progress, label))
        except (InvalidInputError, ModelError) as error:
            _report_error(display, args, error)
            codes.append(EXIT_BAD_INPUT)
            continue
        except (KeyboardInterrupt, CancelledError):
            display.finish()
            raise
        except Exception as error:
            _report_error(display, args, error, internal=True)
            codes.append(EXIT_INTERNAL)
            continue
        table = summary.pop("table")
        summaries.append(summary)
        codes.append(EXIT_OK)
        if not isinstance(display, JsonLines):
            display.finish()
            _say(f"== {study.name} ({summary['seconds']:.1f} s) -> {output / study.name}\n{table}")
    display.finish({"studies": summaries} if isinstance(display, JsonLines) else None)
    return _combined(codes)


def _prefixed(progress, label: str):
    def report(fraction: float, message: str) -> None:
        progress(fraction, f"{label}: {message}")

    return report


def _report_error(display, args, error: BaseException, internal: bool = False) -> None:
    if getattr(args, "debug", False):
        raise error
    display.finish()
    kind = "internal error" if internal else "error"
    detail = f"{type(error).__name__}: {error}" if internal and not isinstance(error, LiverLesionError) else str(error)
    _say(f"liverlesion: {kind}: {detail}", sys.stderr)


def _combined(codes: list[int]) -> int:
    if EXIT_INTERNAL in codes:
        return EXIT_INTERNAL
    if EXIT_BAD_INPUT in codes:
        return EXIT_BAD_INPUT
    return EXIT_OK


def _child_command(study: Study, outdir: Path, args: argparse.Namespace, threads: int) -> list[str]:
    command = [sys.executable, "-m", "liverlesion", "segment", str(study.path), "-o", str(outdir)]
    command += ["--backend", args.backend, "--threads", str(threads), "--progress", "json"]
    if args.min_lesion_ml is not None:
        command += ["--min-lesion-ml", repr(args.min_lesion_ml)]
    if args.probabilities:
        command.append("--probabilities")
    if getattr(args, "show_candidates", False):
        command.append("--show-candidates")
    if args.model:
        command += ["--model", str(args.model)]
    if getattr(args, "store_to", None):
        command += ["--store-to", args.store_to]  # credentials go through the environment
    return command


def _run_parallel(studies: list[Study], output: Path, args: argparse.Namespace) -> int:
    """Run up to ``--jobs`` child processes (``liverlesion segment`` on one study each)."""
    display = make_display(args.progress)
    threads = args.threads or max(1, default_threads() // args.jobs)
    pending = list(studies)
    running: dict[subprocess.Popen, Study] = {}
    summaries, codes = [], []
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                study = pending.pop(0)
                command = _child_command(study, output / study.name, args, threads)
                environment = {**os.environ, **pacs.credentials_of(args).environment()}
                running[subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         env=environment)] = study
            finished = [process for process in running if process.poll() is not None]
            if not finished:
                time.sleep(0.05)
                continue
            for process in finished:
                study = running.pop(process)
                stdout, stderr = process.communicate()
                codes.append(process.returncode)
                summary = _last_json(stdout)
                done = len(codes) / len(studies)
                if process.returncode == EXIT_OK and summary is not None:
                    summary["study"] = study.name
                    summaries.append(summary)
                    display(done, f"{study.name}: done, {len(summary.get('lesions', []))} lesion(s)")
                else:
                    display(done, f"{study.name}: failed (exit {process.returncode})")
                    display.finish()
                    sys.stderr.write(stderr.strip().splitlines()[-1] + "\n" if stderr.strip() else "")
    except KeyboardInterrupt:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait()
        display.finish()
        raise
    display.finish({"studies": summaries} if isinstance(display, JsonLines) else None)
    if not isinstance(display, JsonLines):
        for summary in summaries:
            classes = Counter(lesion["class"] for lesion in summary.get("lesions", []))
            _say(
                f"{summary['study']}: liver {summary.get('liver_volume_ml', 0):.1f} mL, "
                f"{len(summary.get('lesions', []))} lesion(s) {dict(classes) or ''}".rstrip()
            )
    return _combined([code if code in (EXIT_OK, EXIT_BAD_INPUT) else EXIT_INTERNAL for code in codes])


def _say(text: str, stream=None) -> None:
    """One message line (or block) to stdout, or ``stream``."""
    stream = stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None
