"""``liverlesion web [INPUT] [--host 127.0.0.1] [--port N]``: serve the browser viewer."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "web",
        help="open the browser viewer (load, Segment & Classify, correct, Update lesions, download)",
        description="Serve the LiverLesionAI browser viewer: a trame-slicer page where you load a CT (path, "
        "upload or DICOM folder), run Segment & Classify with a progress bar, read the lesion table, see the "
        "segmentation in axial / coronal / sagittal / 3D views, correct masks with the segment editor (Paint, "
        "Erase, Scissors, Islands), click Update lesions and download .seg.nrrd, NIfTI, CSV and JSON. "
        "Rendering happens on the server (EGL, no display needed). Open the printed address in a browser.",
    )
    parser.add_argument("input", nargs="?", help="CT file (.nii/.nii.gz/.nrrd/.mha) or DICOM folder to open at start")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument("--model", dest="model_dir", help="model package folder (default: the bundled model)")
    parser.add_argument("--backend", choices=("onnxruntime", "torch"), default=None,
                        help="inference backend (default onnxruntime)")
    parser.add_argument("--threads", type=int, default=None, help="inference threads (default: all CPUs)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import MissingDependencyError

    try:
        from ..web.app import main
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in {"trame", "trame_slicer", "trame_server", "slicer", "vtk"}:
            raise MissingDependencyError(error.name, "web") from error
        raise
    options = {key: getattr(args, key) for key in ("model_dir", "backend", "threads") if getattr(args, key)}
    main(args.input, host=args.host, port=args.port, open_browser=args.open, segment_options=options)
    return 0
