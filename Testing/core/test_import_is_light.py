"""Importing the core, its IO and orientation loads no heavy or GUI library (they load lazily when used)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["torch", "qt", "PyQt5", "PySide2", "slicer", "onnxruntime", "vtk", "vtkmodules", "SimpleITK"]


def test_importing_the_core_io_and_orientation_loads_nothing_heavy():
    code = (
        "import json, sys\n"
        "import liverlesion, liverlesion.io, liverlesion.orientation\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_reading_a_file_does_load_simpleitk_so_the_check_above_can_fail(tmp_path):
    code = (
        "import json, sys, numpy as np\n"
        "from liverlesion.io import read_volume, write_volume\n"
        "from liverlesion.volume import Volume\n"
        f"write_volume({str(tmp_path / 'v.nrrd')!r}, Volume(np.zeros((3, 4, 5), np.int16)))\n"
        f"read_volume({str(tmp_path / 'v.nrrd')!r})\n"
        "print(json.dumps('SimpleITK' in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) is True
