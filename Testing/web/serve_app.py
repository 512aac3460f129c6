"""Start the web viewer for the browser tests and benchmarks: ``python serve_app.py --port N [options]``.

Uses the bundled model when there is one (or ``--model DIR``); ``--stand-in PACKAGE`` instead runs the real
pipeline with the intensity-rule networks of :mod:`stand_in_networks` on PACKAGE's configuration (for machines
without a trained model). Prints ``READY <url>`` once the server listens.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--input", help="CT to open at start")
    parser.add_argument("--model", help="model package folder (default: the bundled one)")
    parser.add_argument("--stand-in", dest="stand_in", help="model package whose config the stand-in networks use")
    parser.add_argument("--min-lesion-ml", type=float, default=None)
    parser.add_argument("--data-root", dest="data_root", help="folder the path field may read (default: off)")
    parser.add_argument("--work-dir", dest="work_dir", help="the session's folder (default: a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("liverlesion").setLevel(logging.INFO)

    from liverlesion.web.app import create_app

    options = {}
    if args.model:
        options["model_dir"] = args.model
    if args.min_lesion_ml is not None:
        options["min_lesion_ml"] = args.min_lesion_ml
    segmenter = None
    if args.stand_in:
        from stand_in_networks import stand_in_segmenter

        segmenter = stand_in_segmenter(args.stand_in)
    app = create_app(input_path=args.input, segment_options=options, segmenter=segmenter,
                     data_root=args.data_root, work_dir=args.work_dir)
    url = f"http://127.0.0.1:{args.port}/"
    app.server.controller.on_server_ready.add(lambda **_: print(f"READY {url}", flush=True))
    app.server.start(host="127.0.0.1", port=args.port, open_browser=False, show_connection_info=False)


if __name__ == "__main__":
    main()
