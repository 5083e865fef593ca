"""rlad: RL-aware knowledge distillation of reasoning language models (Zhang et al. 2026)."""

__version__ = "0.1.0"
