"""``python -m liverlesion.training`` (also under ``torchrun --nproc_per_node=N -m liverlesion.training``)."""

from __future__ import annotations

import sys

from ..cli.train import main

if __name__ == "__main__":
    sys.exit(main())
