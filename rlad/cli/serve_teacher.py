"""``rlad serve-teacher MODEL --port N``: serve a teacher's token log-probs over HTTP.

The training process then reaches it with ``teacher_backend=remote teacher_url=http://HOST:N`` and
holds only the student. The endpoints (a vLLM-compatible subset plus the tokenizer description the
pre-flight check needs) are listed in :mod:`rlad.teacher.serving.server`. ``python -m rlad.cli.serve_teacher``
runs the same command on a machine that only serves (it imports no training code). ``--port 0`` picks a free port;
the first line printed says where the server listens, e.g.
``rlad serve-teacher: serving 'teacher' at http://127.0.0.1:8000 ...``.

Every argument is checked before the model loads (a large one takes minutes): a bad port, device,
limit or host is a one-line error with exit code 2. A host other than loopback needs an API key
(``--api-key`` or ``RLAD_TEACHER_API_KEY``) or an explicit ``--insecure-no-key``. The module imports
no torch until it runs, so ``rlad --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
from pathlib import Path

from rlad.cli.main import UserError

# rlad.teacher.local.DTYPES's names (that module imports torch; a test keeps the two equal).
DTYPE_NAMES = ("auto", "float32", "bfloat16", "float16")
API_KEY_ENV = "RLAD_TEACHER_API_KEY"  # rlad.teacher.serving.protocol.API_KEY_ENV
DEVICE_TYPES = ("cpu", "cuda", "mps")

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
        help="address to bind (default 127.0.0.1; any other, e.g. 0.0.0.0, needs --api-key or --insecure-no-key)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"shared secret clients must send as 'Authorization: Bearer KEY' (default: ${API_KEY_ENV}; "
        "the environment keeps it out of the process list)",
    )
    parser.add_argument(
        "--insecure-no-key",
        action="store_true",
        help="serve a non-loopback --host without an API key (anyone who reaches it can query the teacher)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="where the teacher runs: cpu, cuda, cuda:N, mps (default: cuda if available)",
    )
    parser.add_argument("--dtype", default="auto", choices=DTYPE_NAMES, help="teacher weights dtype")
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
    parser.add_argument(
        "--max-text-kb",
        type=float,
        default=256.0,
        help="body size limit of /tokenize, /detokenize and /rlad/render_chat in KiB (default 256)",
    )
    parser.add_argument("--log-requests", action="store_true", help="log every scored request")
    return parser


def run(args: argparse.Namespace) -> int:
    api_key = _check_arguments(args)
    device = _check_device(args.device)
    from rlad.teacher.local import TeacherLoadError
    from rlad.teacher.serving.server import ServerLimits, TeacherServer, check_exposure

    try:
        check_exposure(args.host, api_key, args.insecure_no_key)
    except ValueError as err:
        raise UserError(str(err)) from err
    limits = ServerLimits(
        max_sequence_length=args.max_model_len,
        max_sequences=args.max_sequences,
        max_body_bytes=int(args.max_body_mb * (1 << 20)),
        max_text_bytes=int(args.max_text_kb * (1 << 10)),
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
            api_key=api_key,
            allow_no_key=args.insecure_no_key,
        )
    except TeacherLoadError as err:
        raise UserError(str(err)) from err
    except OSError as err:  # address in use, permission denied
        raise UserError(f"cannot listen on {args.host}:{args.port}: {err}") from err
    app = server.app
    print(
        f"rlad serve-teacher: serving {app.model_name!r} at {server.url} on {app.device} "
        f"(vocabulary {app.vocab_rows} rows, max length {app.limits.max_sequence_length}, "
        f"tokenizer {app.tokenizer_description['fingerprint'][:12]}, "
        f"{'API key required' if api_key else 'no API key'})",
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


def _check_arguments(args: argparse.Namespace) -> str | None:
    """The checks that need no model and no torch; returns the API key (None: none)."""
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a TCP port (0 .. 65535)")
    for flag, value in (
        ("--batch-size", args.batch_size),
        ("--max-model-len", args.max_model_len),
        ("--max-sequences", args.max_sequences),
    ):
        if value is not None and value <= 0:
            raise UserError(f"{flag} must be positive, got {value}")
    for flag, value, unit in (
        ("--max-body-mb", args.max_body_mb, 1 << 20),
        ("--max-text-kb", args.max_text_kb, 1 << 10),
    ):
        if not (math.isfinite(value) and value * unit >= 1):
            raise UserError(f"{flag} must be a positive finite size (at least one byte), got {value}")
    if not args.served_model_name:
        raise UserError("--served-model-name must not be empty")
    api_key = args.api_key if args.api_key is not None else (os.environ.get(API_KEY_ENV) or None)
    source = "--api-key" if args.api_key is not None else API_KEY_ENV
    if api_key is not None and not (
        api_key and api_key.isascii() and api_key.isprintable() and " " not in api_key
    ):
        raise UserError(
            f"{source} must be visible ASCII characters with no spaces (it goes in an HTTP header)"
        )
    if args.model.startswith((".", "/", "~")) and not Path(args.model).expanduser().exists():
        raise UserError(f"MODEL path {args.model!r} does not exist")
    return api_key


def _check_device(name: str | None) -> str:
    """``--device``, checked against what this machine has (default: cuda if available, else cpu)."""
    import torch

    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        raise UserError(f"--device {name!r} is not a device; use cpu, cuda, cuda:N or mps")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError(
                f"--device {name!r}: this machine has no CUDA device (torch {torch.__version__}); use cpu"
            )
        if device.index is not None and device.index >= count:
            raise UserError(
                f"--device {name!r}: this machine has {count} CUDA device(s), cuda:0 .. cuda:{count - 1}"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {name!r}: MPS is not available on this machine; use cpu")
    return name


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
