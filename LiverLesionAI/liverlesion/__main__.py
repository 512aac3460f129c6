"""``python -m liverlesion`` (used by Slicer's PythonSlicer)."""

import sys

from .cli.main import main

sys.exit(main())
