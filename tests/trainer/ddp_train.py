"""Two-process training script for test_distributed.py (run with torchrun, gloo backend on CPU).

Each rank scores its own rollouts with its own teacher copy; after training every rank writes the
sum and a fingerprint of its weights so the test can check they are identical.
"""

import json
import os
import sys
import warnings

import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from trainer_helpers import COMMON, addition_dataset, digit_fraction  # noqa: E402

from rlad.toy.models import build_tiny_llama  # noqa: E402
from rlad.toy.tokenizer import build_char_tokenizer  # noqa: E402
from rlad.trainer import RLADConfig, RLADTrainer  # noqa: E402


def main() -> None:
    out_dir = sys.argv[1]
    tokenizer = build_char_tokenizer()
    student = build_tiny_llama(tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0)
    teacher = build_tiny_llama(tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=1)
    config = {**COMMON, "per_device_train_batch_size": 4, "ddp_backend": "gloo"}
    args = RLADConfig(output_dir=out_dir, loss="trrd", **config)
    trainer = RLADTrainer(
        model=student,
        reward_funcs=digit_fraction,
        args=args,
        train_dataset=addition_dataset(),
        processing_class=tokenizer,
        teacher=teacher,
        teacher_tokenizer=tokenizer,
    )
    trainer.train()
    params = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
    start = build_tiny_llama(tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0)
    initial = torch.cat([p.detach().flatten() for p in start.parameters()])
    rank = int(os.environ.get("RANK", 0))
    result = {
        "world_size": trainer.accelerator.num_processes,
        "sum": params.double().sum().item(),
        "fingerprint": params[::97].tolist(),
        "moved": (params - initial).abs().max().item(),
        "regime_logged": any("regime/pos_teacher_more/frac" in rec for rec in trainer.state.log_history),
    }
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
