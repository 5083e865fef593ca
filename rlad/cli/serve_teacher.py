"""``rlad serve-teacher MODEL --port N``: serve a teacher's token log-probs over HTTP.

The training process then reaches it with ``teacher_backend=remote teacher_url=http://HOST:N`` and
holds only the student. The endpoints (a vLLM-compatible subset plus the tokenizer description the
pre-flight check needs) are listed in :mod:`rlad.teacher.server`. ``python -m rlad.cli.serve_teacher``
runs the same command on a machine that only serves (it imports no training code). ``--port 0`` picks a free port;
the first line printed says where the server listens, e.g.
``rlad serve-teacher: serving 'teacher' at http://127.0.0.1:8000 ...``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import torch

from rlad.cli.main import UserError
from rlad.teacher.local import DTYPES, TeacherLoadError

DESCRIPTION = (
    "Serve MODEL's log-probs of given token ids at POST /v1/completions (the vLLM form), "
    "with /tokenize and /rlad/tokenizer for the pre-flight tokenizer check."
)


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help="serve a teacher's token log-probs over HTTP (for teacher_backend=remote)",
        description=DESCRIPTION,
    )
    return _add_arguments(parser)


def _add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "model", help="teacher: a local directory saved with save_pretrained (or a cached hub name)"
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0: a free one; default 8000)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network, unauthenticated)",
    )
    parser.add_argument(
        "--device", default=None, help="where the teacher runs (default: cuda if available, else cpu)"
    )
    parser.add_argument("--dtype", default="auto", choices=list(DTYPES), help="teacher weights dtype")
    parser.add_argument("--served-model-name", default="teacher", help="the name clients send as 'model'")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="sequences per forward (default: a whole request)"
    )
    parser.add_argument(
        "--max-model-len",
        type=int,
        default=None,
        help="longest sequence accepted (default: the model's max_position_embeddings)",
    )
    parser.add_argument("--max-sequences", type=int, default=256, help="sequences per request at most")
    parser.add_argument("--max-body-mb", type=float, default=64.0, help="request body size limit in MiB")
    parser.add_argument("--log-requests", action="store_true", help="log every scored request")
    return parser


def run(args: argparse.Namespace) -> int:
    from rlad.teacher.server import ServerLimits, TeacherServer

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a TCP port (0 .. 65535)")
    for flag, value in (
        ("--batch-size", args.batch_size),
        ("--max-model-len", args.max_model_len),
        ("--max-sequences", args.max_sequences),
        ("--max-body-mb", args.max_body_mb),
    ):
        if value is not None and value <= 0:
            raise UserError(f"{flag} must be positive, got {value}")
    if args.model.startswith((".", "/", "~")) and not Path(args.model).expanduser().exists():
        raise UserError(f"MODEL path {args.model!r} does not exist")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    limits = ServerLimits(
        max_sequence_length=args.max_model_len,
        max_sequences=args.max_sequences,
        max_body_bytes=int(args.max_body_mb * (1 << 20)),
    )
    logging.basicConfig(
        level=logging.INFO if args.log_requests else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    try:
        server = TeacherServer.from_pretrained(
            args.model,
            dtype=args.dtype,
            host=args.host,
            port=args.port,
            model_name=args.served_model_name,
            device=device,
            batch_size=args.batch_size,
            limits=limits,
        )
    except TeacherLoadError as err:
        raise UserError(str(err)) from err
    except OSError as err:  # address in use, permission denied
        raise UserError(f"cannot listen on {args.host}:{args.port}: {err}") from err
    app = server.app
    print(
        f"rlad serve-teacher: serving {app.model_name!r} at {server.url} on {app.device} "
        f"(vocabulary {app.vocab_rows} rows, max length {app.limits.max_sequence_length}, "
        f"tokenizer {app.tokenizer_description['fingerprint'][:12]})",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops the server as Ctrl-C does
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("rlad serve-teacher: stopped", file=sys.stderr)
    finally:
        server.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``python -m rlad.cli.serve_teacher MODEL --port N``: the same command, importing no other subcommand."""
    args = _add_arguments(
        argparse.ArgumentParser(prog="rlad serve-teacher", description=DESCRIPTION)
    ).parse_args(argv)
    try:
        return run(args)
    except UserError as err:
        print(f"rlad serve-teacher: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
