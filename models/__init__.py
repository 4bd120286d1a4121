"""The cross-modal transformer, SEED-V data, LOSO training, export and the runtime."""

from .config import ModelConfig
from .contract import ModelContract
from .export import export_pt2, export_torchscript, export_untrained
from .runtime import Runtime, load_runtime
from .seed import load_seed_state_dict
from .transformer import CrossModalTransformer

__all__ = [
    "CrossModalTransformer",
    "ModelConfig",
    "ModelContract",
    "Runtime",
    "export_pt2",
    "export_torchscript",
    "export_untrained",
    "load_runtime",
    "load_seed_state_dict",
]
