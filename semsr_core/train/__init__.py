"""The training engine: recipes (configs), the one engine, checkpoints and run folders."""

from semsr_core.train.api import find_runs, resume, run_summary, train
from semsr_core.train.config import TrainConfig, load_config, recipe_names

__all__ = ["TrainConfig", "find_runs", "load_config", "recipe_names", "resume",
           "run_summary", "train"]
