"""Bad input fails at construction, before any training, with a message naming the problem."""

import pytest
from trainer_helpers import COMMON, addition_dataset, digit_fraction

from rlad.teacher import TeacherLoadError, TokenizerMismatchError
from rlad.toy.models import build_tiny_llama, save_model
from rlad.toy.tokenizer import build_char_tokenizer
from rlad.trainer import RLADConfig, RLADTrainer


def _trainer(tmp_path, student, tokenizer, **config):
    args = RLADConfig(output_dir=str(tmp_path / "out"), **{**COMMON, **config})
    return RLADTrainer(
        model=str(student),
        reward_funcs=digit_fraction,
        args=args,
        train_dataset=addition_dataset(),
        processing_class=tokenizer,
    )


def test_missing_teacher_path(tmp_path, saved_pair, char_tokenizer):
    student, _ = saved_pair
    with pytest.raises(TeacherLoadError, match="teacher_model path '/nonexistent/teacher' does not exist"):
        _trainer(tmp_path, student, char_tokenizer, teacher_model="/nonexistent/teacher")


def test_teacher_needed_but_not_given(tmp_path, saved_pair, char_tokenizer):
    student, _ = saved_pair
    with pytest.raises(ValueError, match="loss='kdrl' needs a teacher"):
        _trainer(tmp_path, student, char_tokenizer, loss="kdrl")


def test_teacher_with_a_different_tokenizer(tmp_path, saved_pair, char_tokenizer):
    student, _ = saved_pair
    other_tok = build_char_tokenizer(alphabet="0123456789=+-ABCDEFGH")
    save_model(
        build_tiny_llama(other_tok, hidden_size=32, num_layers=1, num_heads=2), other_tok, tmp_path / "other"
    )
    with pytest.raises(TokenizerMismatchError, match="student and teacher tokenizers differ: token"):
        _trainer(tmp_path, student, char_tokenizer, teacher_model=str(tmp_path / "other"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("alpha", 1.5, r"alpha=1.5 must be in \[0, 1\]"),
        ("loss", "ppo", "loss='ppo' is not one of grpo, kdrl, opd, trrd"),
        ("kd_estimator", "k9", "kd_estimator='k9' is not one of k1, k2, k3"),
        ("loss_type", "cispo", "loss_type='cispo' is not supported by rlad"),
        ("teacher_rollouts_when", "sometimes", "teacher_rollouts_when='sometimes' is not one of"),
    ],
)
def test_bad_config_values(field, value, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        RLADConfig(output_dir=str(tmp_path), **{field: value})


def test_trainer_requires_rlad_config(tmp_path, saved_pair, char_tokenizer):
    from trl import GRPOConfig

    with pytest.raises(TypeError, match="RLADTrainer needs an RLADConfig, got GRPOConfig"):
        RLADTrainer(
            model=str(saved_pair[0]),
            reward_funcs=digit_fraction,
            args=GRPOConfig(output_dir=str(tmp_path), bf16=False),
            processing_class=char_tokenizer,
        )
