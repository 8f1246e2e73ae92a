"""The ``semsr`` command line: parses arguments, calls the API, shows progress.

Each sub-command is a pair of functions, ``add_<name>(parser)`` and
``run_<name>(args)``, in a module per family of commands (``*_cmd.py``) and listed
in :data:`COMMANDS`. Imports of the engine happen
inside the ``_run_`` functions so that ``semsr --help`` starts instantly.
Errors a user can act on (:class:`~semsr_core.errors.SemsrError`) are printed on
one line and exit with status 2; Ctrl-C exits with status 130 and SIGTERM with 143,
both after the same clean-up (no ``.partial`` file is left behind).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from semsr_core.cli.align_cmd import add_align, run_align
from semsr_core.cli.batch_cmd import add_batch, run_batch
from semsr_core.cli.evaluate_cmd import add_evaluate, run_evaluate
from semsr_core.cli.models_cmd import add_models, run_models
from semsr_core.cli.progress import ProgressPrinter
from semsr_core.cli.resolve_cmd import (
    add_demo,
    add_gui,
    add_info,
    add_super_resolve,
    run_demo,
    run_gui,
    run_info,
    run_super_resolve,
)
from semsr_core.cli.train_cmd import (
    add_augment_preview,
    add_runs,
    add_simulate,
    add_train,
    run_augment_preview,
    run_runs,
    run_simulate,
    run_train,
)
from semsr_core.errors import Cancelled, SemsrError

__all__ = ["COMMANDS", "ProgressPrinter", "build_parser", "main"]

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as the shell reports a process ended by it


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``except BaseException`` clean-up runs
    (temporary ``.partial`` files removed, the run folder's lock released)."""


# name -> (help, add_arguments, run)
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "demo": ("super-resolve the bundled sample stack with the default model and compare "
             "with bicubic", add_demo, run_demo),
    "super-resolve": ("enlarge SEM images and stacks with a model (OME-TIFF out)",
                      add_super_resolve, run_super_resolve),
    "gui": ("open the napari app with the semsr panels (and FILEs)", add_gui, run_gui),
    "train": ("train a model with a recipe on a lab dataset", add_train, run_train),
    "runs": ("list and summarise training runs; list recipes", add_runs, run_runs),
    "align": ("align unaligned LR/HR scan pairs and crop them to the common field of view",
              add_align, run_align),
    "augment-preview": ("write a PNG grid of training samples of an augmentation",
                        add_augment_preview, run_augment_preview),
    "evaluate": ("compare models and the bicubic baseline on a dataset (report with figures)",
                 add_evaluate, run_evaluate),
    "simulate": ("write a simulated SEM dataset: LR/HR pairs with defect masks",
                 add_simulate, run_simulate),
    "models": ("list, inspect, import and export model files", add_models, run_models),
    "info": ("describe image stacks: shape, dtype, pixel size", add_info, run_info),
    "batch": ("super-resolve many stacks on a Dask cluster", add_batch, run_batch),
}


def build_parser() -> argparse.ArgumentParser:
    from semsr_core import __version__

    parser = argparse.ArgumentParser(
        prog="semsr",
        description="Super-resolution of SEM images with GAN models.",
    )
    parser.add_argument("--version", action="version", version=f"semsr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, add, _run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add(p)
    return parser


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    run = COMMANDS[args.command][2]
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(run(args) or 0)
    except Cancelled as exc:
        print(f"semsr: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("\nsemsr: terminated; nothing partial was written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("\nsemsr: interrupted; nothing partial was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `semsr models list | head`: the reader left, not an error
        with _suppressed_stdout():
            return 0
    except SemsrError as exc:
        print(f"semsr: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print("semsr: error: out of memory; use a smaller --tile or close other programs",
              file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # disk full, permissions, ... reported, not hidden
        print(f"semsr: error: {_os_error_text(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:
        if os.environ.get("SEMSR_DEBUG"):
            raise
        print(f"semsr: internal error: {type(exc).__name__}: {exc} "
              "(set SEMSR_DEBUG=1 to see the traceback, and please report it)",
              file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _os_error_text(exc: OSError) -> str:
    """One line for an OSError no command turned into a SemsrError: the file and why,
    in the same words as the writers' errors (disk full with the space free)."""
    import errno
    from pathlib import Path

    from semsr_core.io.write import write_failure

    if exc.filename and exc.errno in (errno.ENOSPC, errno.ENOTDIR, errno.EACCES,
                                      getattr(errno, "EDQUOT", errno.ENOSPC)):
        return str(write_failure(exc, Path(exc.filename)))
    if exc.errno == errno.ENOSPC:
        return f"not enough disk space ({exc.strerror}). Free some space and try again."
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


class _suppressed_stdout:
    """Point stdout at devnull so Python's exit flush does not fail on a closed pipe."""

    def __enter__(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())

    def __exit__(self, *exc) -> None:
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
