"""The cohort package and its CLI load no Dask until a cohort runs (``liverlesion --help`` stays quick)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_importing_the_cohort_package_and_its_command_loads_no_dask():
    code = (
        "import json, sys\n"
        "import liverlesion.cohort, liverlesion.cohort.runner, liverlesion.cli.cohort\n"
        "from liverlesion.cli.main import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(m for m in ('dask', 'distributed') if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_importing_the_worker_plugin_does_load_dask_so_the_check_above_can_fail():
    code = "import sys, liverlesion.cohort.plugin\nprint('distributed' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip().splitlines()[-1] == "True"
