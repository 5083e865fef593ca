"""The RLAD trainer: TRL's GRPO machinery with a teacher inside the objective."""

from rlad.trainer.config import RLADConfig
from rlad.trainer.trainer import RLADTrainer

__all__ = ["RLADConfig", "RLADTrainer"]
