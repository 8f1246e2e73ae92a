"""The one check of option keys against what a callable accepts.

A recipe's or a call's options become keyword arguments of a network, a loss, a
training dataset or a degradation, so "which keys may I set here?" has one answer:
the callable's named parameters. :func:`check_kwargs` refuses any other key with a
:class:`~semsr_core.errors.ConfigError` that names it and lists the accepted ones;
the registries (archs, losses, datasets, degradations), the model factory and the
training configuration all use it.

Only named parameters count (positional-or-keyword and keyword-only): a ``**kwargs``
catch-all (``nn.Module.__init__``'s, say) does not make every key acceptable.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from semsr_core.errors import ConfigError

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def accepted_keywords(target: Callable[..., Any], *, ignore: Iterable[str] = ()) -> tuple[str, ...]:
    """The keyword arguments ``target`` takes by name, in signature order (for a class,
    its constructor's, without ``self``), less those in ``ignore``."""
    skipped = {"self", *ignore}
    function = target.__init__ if inspect.isclass(target) else target
    return tuple(name for name, p in inspect.signature(function).parameters.items()
                 if p.kind in _NAMED and name not in skipped)


def check_kwargs(target: Callable[..., Any], given: Mapping[str, Any] | Iterable[str], *,
                 what: str, ignore: Iterable[str] = (), extra: Iterable[str] = (),
                 key_prefix: str = "") -> tuple[str, ...]:
    """Refuse a key of ``given`` that ``target`` does not take; returns the accepted keys.

    ``what`` names the thing configured at the start of the message (``"rrdbnet"``,
    ``"loss 'vgg'"``); ``ignore`` are parameters the caller fills itself (not the
    user's to set); ``extra`` are keys the caller accepts besides the parameters
    (e.g. a loss term's ``weight``); ``key_prefix`` is written before the key (a
    configuration path such as ``"phases.gan.losses.vgg."``). The error reads
    ``<what>: unknown key '<prefix><key>'. Accepted keys: a, b, c.``
    """
    accepted = (*accepted_keywords(target, ignore=ignore), *extra)
    for key in given:
        if key not in accepted:
            raise ConfigError(f"{what}: unknown key '{key_prefix}{key}'",
                              hint=f"Accepted keys: {', '.join(accepted) or 'none'}.")
    return accepted
