"""Model files: a generator plus its model card.

A ``.semsr`` model is one safetensors file: the generator's weights as tensors and
the JSON model card in the safetensors header metadata under the key
``"semsr.card"``. Loading never unpickles. The card says how to rebuild the
generator (``arch`` + ``config`` through :func:`semsr_core.archs.build`, where the
config's keys are the constructor's arguments) and how to feed it
(``normalization``, ``value_range``).

Community ESRGAN / Real-ESRGAN / BasicSR ``.pth`` files are imported with
:func:`import_pth`: they are read with ``torch.load(weights_only=True)`` (a file
that holds code or Python objects is refused), and the architecture, scale and
channels are detected from the state-dict keys.

Models are named by a path or by a name; a name resolves to
``<user models folder>/<name>.semsr`` and then to the bundled
``resources/models/<name>.semsr``.
"""

from semsr_core.models.card import (
    CARD_KEY,
    CHECKSUM_KEY,
    FORMAT_KEY,
    FORMAT_VERSION,
    IMPLAUSIBLE_WEIGHT,
    MODEL_SUFFIX,
    NORMALIZATION_MODES,
    PICKLE_SUFFIXES,
    SAFETENSORS_SUFFIXES,
    ModelCard,
)
from semsr_core.models.load import read_card
from semsr_core.models.model import Model
from semsr_core.models.pth import detect_rrdbnet, import_pth, rrdb_public_keys
from semsr_core.models.store import (
    DEFAULT_MODEL,
    ModelEntry,
    bundled_models_dir,
    check_model_name,
    export_model,
    import_model,
    install_model,
    list_models,
    load_model,
    preferred_model,
    resolve_model,
    user_models_dir,
)
from semsr_core.models.weights import check_weights, load_weights, weights_digest

__all__ = [
    "CARD_KEY",
    "CHECKSUM_KEY",
    "DEFAULT_MODEL",
    "FORMAT_KEY",
    "FORMAT_VERSION",
    "IMPLAUSIBLE_WEIGHT",
    "MODEL_SUFFIX",
    "NORMALIZATION_MODES",
    "PICKLE_SUFFIXES",
    "SAFETENSORS_SUFFIXES",
    "Model",
    "ModelCard",
    "ModelEntry",
    "bundled_models_dir",
    "check_model_name",
    "check_weights",
    "detect_rrdbnet",
    "export_model",
    "import_model",
    "import_pth",
    "install_model",
    "list_models",
    "load_model",
    "load_weights",
    "preferred_model",
    "read_card",
    "resolve_model",
    "rrdb_public_keys",
    "user_models_dir",
    "weights_digest",
]
