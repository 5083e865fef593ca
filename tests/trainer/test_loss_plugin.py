"""Adding a loss is one file plus its tests: a toy loss defined and registered here trains through
RLADConfig, RLADTrainer and ``rlad train`` without any other module naming it."""

import json

import pytest
import torch
import yaml
from trainer_helpers import COMMON, addition_dataset, digit_fraction

from rlad.objectives import LOSSES, HyperParam, aggregate, register_loss
from rlad.objectives.losses import SURROGATE
from rlad.objectives.spec import positive_or_none
from rlad.objectives.surrogate import clipped_surrogate
from rlad.toy.models import build_tiny_llama, save_model
from rlad.trainer import RLADConfig, RLADTrainer

SCALE = HyperParam("scale", 1.0, "Multiplies GRPO's loss.", None, positive_or_none)


def scaled_grpo_loss(
    *, logp, old_logp, advantages, mask, scale, eps_low, eps_high, aggregation, norm_constant
):
    """GRPO's clipped surrogate times ``scale``: a loss with a hyper-parameter no config field knows."""
    per_token, _ = clipped_surrogate(logp - old_logp, advantages, eps_low, eps_high)  # (B, T)
    loss = scale * aggregate(per_token, mask, aggregation, norm_constant)
    return loss, {"toy/scale": torch.tensor(float(scale)), "toy/unscaled": (loss / scale).detach()}


@pytest.fixture
def toy_loss():
    register_loss(
        "toy_scaled_grpo",
        inputs=("logp", "old_logp", "advantages", "mask"),
        params=(SCALE, *SURROGATE),
        metrics=("toy/scale", "toy/unscaled"),
    )(scaled_grpo_loss)
    yield "toy_scaled_grpo"
    LOSSES.remove("toy_scaled_grpo")


def test_toy_loss_trains_through_config_and_trainer(toy_loss, char_tokenizer, tmp_path):
    with pytest.raises(ValueError, match=r"loss_params scale=-1.0 must be a positive number or None"):
        RLADConfig(output_dir=str(tmp_path), loss=toy_loss, loss_params={"scale": -1.0})
    with pytest.raises(ValueError, match="loss_params key 'sclae' is not a free hyper-parameter of "):
        RLADConfig(output_dir=str(tmp_path), loss=toy_loss, loss_params={"sclae": 3.0})
    args = RLADConfig(
        output_dir=str(tmp_path), **{**COMMON, "max_steps": 1}, loss=toy_loss, loss_params={"scale": 3.0}
    )
    assert not args.needs_teacher  # read from the declaration: the toy loss takes no teacher_logp
    assert args.loss_settings(0, 1)["scale"] == 3.0
    trainer = RLADTrainer(
        model=build_tiny_llama(char_tokenizer, hidden_size=16, num_layers=1, num_heads=2, seed=0),
        reward_funcs=digit_fraction,
        args=args,
        train_dataset=addition_dataset(),
        processing_class=char_tokenizer,
    )
    trainer.train()
    logged = next(r for r in trainer.state.log_history if "toy/scale" in r)
    assert logged["toy/scale"] == 3.0
    assert logged["loss"] == pytest.approx(3.0 * logged["toy/unscaled"], rel=1e-4, abs=1e-6)


def test_toy_loss_trains_through_the_cli(toy_loss, char_tokenizer, tmp_path, capsys):
    from rlad.cli.main import main

    save_model(
        build_tiny_llama(char_tokenizer, hidden_size=16, num_layers=1, num_heads=2, seed=0),
        char_tokenizer,
        tmp_path / "student",
    )
    recipe = {
        "model": str(tmp_path / "student"),
        "task": "arithmetic",
        "task_options": {"min_operands": 2, "max_operands": 2, "max_digits": 1},
        "train_limit": 8,
        "eval_limit": 2,
        "eval_k": 1,
        "eval_every": 0,
        "config": {
            "max_steps": 1,
            "per_device_train_batch_size": 4,
            "num_generations": 2,
            "max_completion_length": 4,
            "logging_steps": 1,
            "report_to": "none",
            "save_strategy": "no",
            "disable_tqdm": True,
            "seed": 0,
            "output_dir": str(tmp_path / "run"),
        },
    }
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(recipe))
    code = main(["train", str(path), f"loss={toy_loss}", "loss_params={scale: 2.5}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["toy/scale"] for r in records if "toy/scale" in r] == [2.5]
    code = main(["train", str(path), f"loss={toy_loss}", "loss_params={scale: 0}"])
    _, err = capsys.readouterr()
    assert code == 2 and "loss_params scale=0 must be a positive number or None" in err
    assert "Traceback" not in err
