"""Start the web viewer's gateway for the browser tests and benchmarks: ``python serve_app.py --port N [options]``.

The gateway (:mod:`liverlesion.web.gateway`) is the product's; each session it starts runs this script again with
``--session-config FILE`` so that ``--stand-in PACKAGE`` can run the real pipeline with the intensity-rule networks
of :mod:`stand_in_networks` on PACKAGE's configuration (for machines without a trained model). Without
``--stand-in`` sessions use the bundled model (or ``--model DIR``). Prints ``READY <url>`` once the gateway listens.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--input", help="CT every session opens at start")
    parser.add_argument("--model", help="model package folder (default: the bundled one)")
    parser.add_argument("--stand-in", dest="stand_in", help="model package whose config the stand-in networks use")
    parser.add_argument("--min-lesion-ml", type=float, default=None)
    parser.add_argument("--data-root", dest="data_root", help="folder the path field may read (default: off)")
    parser.add_argument("--work-root", dest="work_root", help="parent of the session folders")
    parser.add_argument("--token", help="access token (default: none, loopback)")
    parser.add_argument("--max-sessions", type=int, default=4)
    parser.add_argument("--abandon-after-s", type=float, default=120.0)
    parser.add_argument("--idle-timeout-s", type=float, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--dicomweb-url", dest="dicomweb_url",
                        help="the team's DICOMweb service root (credentials: LIVERLESION_DICOMWEB_* variables)")
    parser.add_argument("--max-upload-bytes", type=int, default=None, help="GatewayOptions.max_upload_bytes")
    parser.add_argument("--session-config", dest="session_config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("liverlesion").setLevel(logging.INFO)
    if args.session_config:
        serve_session(args)
    else:
        serve_gateway(args)


def serve_session(args) -> None:
    from liverlesion.web.session_main import SessionConfig, serve

    segmenter = None
    if args.stand_in:
        from stand_in_networks import stand_in_segmenter

        segmenter = stand_in_segmenter(args.stand_in)
    config = SessionConfig.read(Path(args.session_config))
    sys.argv = sys.argv[:1]  # trame parses sys.argv
    serve(config, segmenter)


def serve_gateway(args) -> None:
    from liverlesion.web.gateway import GatewayOptions, serve

    options = {}
    if args.model:
        options["model_dir"] = args.model
    if args.min_lesion_ml is not None:
        options["min_lesion_ml"] = args.min_lesion_ml
    if args.threads:
        options["threads"] = args.threads
    session_command = [sys.executable, str(Path(__file__).resolve())]
    if args.stand_in:
        session_command += ["--stand-in", args.stand_in]
    session_command.append("--session-config")
    limits = {"max_upload_bytes": args.max_upload_bytes} if args.max_upload_bytes else {}
    gateway = GatewayOptions(
        host="127.0.0.1", port=args.port, token=args.token, max_sessions=args.max_sessions,
        data_root=args.data_root, input_path=args.input, segment_options=options, work_root=args.work_root,
        abandon_after_s=args.abandon_after_s, idle_timeout_s=args.idle_timeout_s,
        session_command=tuple(session_command), dicomweb_url=args.dicomweb_url, **limits,
    )
    serve(gateway, on_ready=lambda port: print(f"READY http://127.0.0.1:{port}/", flush=True))


if __name__ == "__main__":
    main()
