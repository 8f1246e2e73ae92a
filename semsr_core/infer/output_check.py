"""Refusing results that are not images: an error, never a file.

A damaged or unsuitable model, an overflow in half precision or a diverged training
can give a result that is NaN or infinite, or one flat value, with nothing wrong in the
input. Written out, such a result looks like success (exit status 0) and destroys what
the user came for. :func:`check_slice` compares each result slice with the slice it
was made from and raises a :class:`~semsr_core.errors.ModelError` when

- the input slice is finite everywhere but the result has NaN or infinite values, or
  more than half of the result is NaN or infinite whatever the input;
- the result is one constant value where the input slice was not constant.

The super-resolve engine checks every slice it makes (``_Run.resolve_slice``), so a bad
slice stops a file's writer before it reaches the final name (the partial file is
removed, see :func:`semsr_core.io.write_stack`) and an in-memory call raises instead of
returning it.
"""

from __future__ import annotations

import os

import numpy as np

from semsr_core.errors import ModelError

MOSTLY = 0.5
"""Fraction of non-finite result values that is always an error."""

_HINT = ("The model may be damaged or unsuited to these images; try another model, or "
         "--precision fp32 if a half-precision run overflowed")


def check_slice(result: np.ndarray, source: np.ndarray, *, index: int = 0,
                path: str | os.PathLike | None = None, model: str = "") -> None:
    """Raise a ModelError naming ``path`` (the input file) when ``result`` is not an
    image: non-finite values (see the module docstring) or constant where ``source``
    was not."""
    result = np.asarray(result)
    source = np.asarray(source)
    where = f"slice {index} of {{path}}" if path is not None else f"slice {index}"
    by = f" by model '{model}'" if model else ""
    if result.size == 0:
        raise ModelError(f"the result for {where}{by} is empty", path=path, hint=_HINT)
    if result.dtype.kind in "fc":
        finite = np.isfinite(result)
        bad = result.size - int(np.count_nonzero(finite))
        source_finite = source.dtype.kind not in "fc" or bool(np.isfinite(source).all())
        if bad and (source_finite or bad > MOSTLY * result.size):
            raise ModelError(
                f"the result for {where}{by} has {bad} NaN or infinite value(s) of "
                f"{result.size} ({100 * bad / result.size:.3g}%); it is not written",
                path=path, hint=_HINT)
        values = result[finite] if bad else result
    else:
        values = result
    if _is_constant(values) and _varies(_finite(source)):
        raise ModelError(
            f"the result for {where}{by} is one constant value "
            f"({float(values.flat[0]):g}) although the input is not; it is not written",
            path=path, hint=_HINT)


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)] if values.dtype.kind in "fc" else values


def _is_constant(values: np.ndarray) -> bool:
    return values.size > 0 and bool(values.min() == values.max())


def _varies(values: np.ndarray) -> bool:
    return values.size > 0 and bool(values.min() != values.max())
