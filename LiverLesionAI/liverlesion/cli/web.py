"""``liverlesion web [INPUT] [--host H] [--port N] [--token T] [--data-root DIR] ...``: serve the browser viewer."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..backends import BACKENDS
from ..dicomweb.credentials import PASSWORD_ENV, TOKEN_ENV, USER_ENV


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "web",
        help="serve the browser viewer (load, Segment & Classify, correct, Update lesions, download)",
        description="Serve the LiverLesionAI browser viewer: a trame-slicer page where you upload a CT (file or "
        "DICOM folder, or pick one in --data-root), run Segment & Classify with a progress bar, read the lesion "
        "table, see the segmentation in axial / coronal / sagittal / 3D views, correct masks with the segment "
        "editor, click Update lesions and download .seg.nrrd, NIfTI, CSV and JSON. Every browser gets its own "
        "isolated session (its own scene and pipeline process); rendering happens on the server (EGL). "
        "Beyond 127.0.0.1 an access token is required: --token, the LIVERLESION_WEB_TOKEN variable, or one "
        "generated and printed at start. Plain HTTP: put it behind an HTTPS reverse proxy (see the README).",
    )
    parser.add_argument("input", nargs="?", help="CT file or DICOM folder every new session opens at start")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it to "
                        "the network and requires a token)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument("--token", default=None,
                        help="access token (16+ characters) users open the page with (…/?token=T); default: "
                        "$LIVERLESION_WEB_TOKEN, else none on loopback and a generated one beyond it")
    parser.add_argument("--data-root", dest="data_root", default=None,
                        help="server folder whose CTs users may open by path (default: none, the path field is "
                        "off and users upload); paths are resolved strictly inside it")
    parser.add_argument("--max-sessions", dest="max_sessions", type=int, default=4,
                        help="most concurrent browser sessions (default 4; each holds a CT, its scene and a "
                        "pipeline process, up to about 2.3 GB on a 512×512 CT); more get a 'server busy' page")
    parser.add_argument("--idle-timeout", dest="idle_timeout", type=float, default=None, metavar="MINUTES",
                        help="end a session holding results this many minutes after its last page closed "
                        "(default: never; the page tells users)")
    parser.add_argument("--abandon-after", dest="abandon_after", type=float, default=2.0, metavar="MINUTES",
                        help="end a session WITHOUT results this many minutes after its page closed (default 2)")
    parser.add_argument("--max-session-memory", dest="max_session_memory", type=float, default=None,
                        metavar="GB", help="end a session whose processes use more memory than this (default: "
                        "no limit)")
    parser.add_argument("--max-upload", dest="max_upload", type=float, default=4.0, metavar="GB",
                        help="most a browser may upload over one connection (default 4; a 512×512×1000 DICOM "
                        "series is about 0.5 GB); past it the connection is closed before the session stores it")
    parser.add_argument("--model", dest="model_dir", help="model package folder (default: the bundled model)")
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="inference backend (default onnxruntime)")
    parser.add_argument("--threads", type=int, default=None, help="inference threads per session (default: all)")
    pacs = parser.add_argument_group(
        "Team PACS (DICOMweb)",
        "With --dicomweb-url every user can browse that server's studies, open one (its largest CT series) and, "
        "after correction, Send to PACS: the corrected masks as new DICOM SEG and SR series (STOW-RS). Users never "
        f"enter a server address. Credentials: --dicomweb-user with ${PASSWORD_ENV}, or ${TOKEN_ENV} (bearer); "
        f"${USER_ENV} works too. They are never printed nor sent to a browser.",
    )
    pacs.add_argument("--dicomweb-url", dest="dicomweb_url", metavar="BASE_URL",
                      help="DICOMweb service root of the team's PACS (e.g. https://pacs/dicom-web)")
    pacs.add_argument("--dicomweb-user", metavar="USER", help=f"user for HTTP basic auth (default: ${USER_ENV})")
    pacs.add_argument("--dicomweb-password", metavar="PASSWORD",
                      help=f"password (visible to other users in the process list: prefer ${PASSWORD_ENV})")
    pacs.add_argument("--dicomweb-token", metavar="TOKEN",
                      help=f"bearer token (visible in the process list: prefer ${TOKEN_ENV})")
    parser.set_defaults(func=run)


def pacs_settings(args: argparse.Namespace) -> str | None:
    """The DICOMweb service root (user info split off); sets this process's environment to exactly the credentials
    the options and the environment give, which the session processes inherit (never on a command line or in a
    session's config file)."""
    if not getattr(args, "dicomweb_url", None):
        return None
    from ..dicomweb.credentials import credentials_from
    from ..dicomweb.locations import check_base_url, split_user_info

    url, user, password = split_user_info(args.dicomweb_url)
    base = check_base_url(url)
    if user:
        credentials = credentials_from(user, password, environ={})
    else:
        credentials = credentials_from(args.dicomweb_user, args.dicomweb_password, args.dicomweb_token)
    for name in (USER_ENV, PASSWORD_ENV, TOKEN_ENV):
        os.environ.pop(name, None)
    os.environ.update(credentials.environment())
    return base


def run(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError, MissingDependencyError
    from ..web.access import choose_token, is_loopback

    try:
        import trame_slicer  # noqa: F401  (sessions need it; fail here, not in the first browser's session)

        from ..web.gateway import GatewayOptions, serve
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in {"trame", "trame_slicer", "trame_server", "slicer", "vtk",
                                                       "aiohttp"}:
            raise MissingDependencyError(error.name, "web") from error
        raise
    try:
        token, generated = choose_token(args.host, args.token)
    except ValueError as error:
        raise InvalidInputError(str(error)) from None
    if args.data_root:
        from ..web.data_root import DataRoot

        DataRoot.at(args.data_root)  # refuse a missing folder now
    dicomweb_url = pacs_settings(args)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("liverlesion").setLevel(logging.INFO)
    options = GatewayOptions(
        host=args.host, port=args.port, token=token, max_sessions=args.max_sessions, data_root=args.data_root,
        input_path=args.input,
        segment_options={key: getattr(args, key) for key in ("model_dir", "backend", "threads") if getattr(args, key)},
        idle_timeout_s=args.idle_timeout * 60 if args.idle_timeout is not None else None,
        abandon_after_s=args.abandon_after * 60,
        max_session_memory=int(args.max_session_memory * 1024**3) if args.max_session_memory else None,
        max_upload_bytes=int(args.max_upload * 1024**3),
        dicomweb_url=dicomweb_url,
    )

    def announce(port: int) -> None:
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        address = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        if not is_loopback(args.host):
            sys.stderr.write(
                f"WARNING: listening on {args.host}:{port}, reachable from the network over plain HTTP. Users need "
                "the access token; serve it behind an HTTPS reverse proxy (README: Serving it for a team).\n"
            )
        if generated:
            sys.stderr.write("A new access token was generated (it is shown only now; pass --token or set "
                             "LIVERLESION_WEB_TOKEN to keep one):\n")
        sys.stdout.write(f"LiverLesionAI viewer: open {address}\n")
        sys.stdout.flush()
        sys.stderr.flush()

    serve(options, on_ready=announce)
    return 0
