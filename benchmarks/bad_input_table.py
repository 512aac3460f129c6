"""Print the README's bad-input table: each bad input from the CLI tests → exit code → the one line printed.

Runs the real ``liverlesion segment`` in a subprocess for every case of ``Testing/cli/test_segment_cli.BAD_INPUTS``
plus a model package whose file fails its sha256. Usage: ``python benchmarks/bad_input_table.py [--model DIR]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Testing" / "cli"))

from liverlesion.io import write_volume  # noqa: E402
from liverlesion.model_package import default_model_dir  # noqa: E402
from test_segment_cli import BAD_INPUTS, _ct, _good_array  # noqa: E402


def run(path: Path, out: Path, model: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "liverlesion", "segment", str(path), "-o", str(out), "--model", str(model),
         "--progress", "none"],
        capture_output=True, text=True,
    )
    return done.returncode, done.stderr.strip().replace(str(path.parent), "…").replace("|", "\\|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_dir())
    args = parser.parse_args()
    print("| input | exit | message |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for make, _rule in BAD_INPUTS:
            case = Path(tmp) / make.__name__
            case.mkdir()
            code, message = run(make(case), case / "out", args.model)
            print(f"| {make.__name__[5:].replace('_', ' ')} | {code} | `{message}` |")
        tampered = Path(tmp) / "tampered-model"
        shutil.copytree(args.model, tampered)
        onnx = tampered / "lesion.onnx"
        onnx.write_bytes(onnx.read_bytes()[:-10] + b"0123456789")
        good = write_volume(Path(tmp) / "ct.nrrd", _ct(_good_array()))
        code, message = run(good, Path(tmp) / "out", tampered)
        print(f"| model file fails its sha256 | {code} | `{message.replace(str(tmp), '…')}` |")


if __name__ == "__main__":
    main()
