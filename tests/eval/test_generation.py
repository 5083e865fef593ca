"""HFBackend on a tiny random Llama (shapes, seeding, greedy = temperature 0, eos handling), the vLLM path."""

import sys
from types import SimpleNamespace

import pytest
import torch
from transformers import GenerationConfig

from rlad.eval.generation import (
    VLLM_INSTALL_HINT,
    GenerationBackend,
    HFBackend,
    VLLMBackend,
    completions_from_vllm,
    encode_prompt,
)

PROMPTS = ["1+2=", "33-4+5=", [{"role": "user", "content": "7-1="}], "9"]
SAMPLING = {"max_new_tokens": 12, "temperature": 1.0, "top_p": 0.95}


def test_backends_satisfy_the_protocol(peaky_student, tokenizer):
    assert isinstance(HFBackend(peaky_student, tokenizer), GenerationBackend)


def test_encode_prompt_chat_and_plain(tokenizer):
    # the toy chat template is "<bos>" + contents: exactly the plain prompt's ids, with one <bos>, not two
    chat = encode_prompt(tokenizer, [{"role": "user", "content": "7-1="}])
    assert chat == encode_prompt(tokenizer, "7-1=") == tokenizer("7-1=")["input_ids"]
    assert chat.count(tokenizer.bos_token_id) == 1


def test_shapes_and_n_per_prompt(peaky_student, tokenizer):
    backend = HFBackend(peaky_student, tokenizer, batch_size=5, show_progress=False)
    out = backend.generate(PROMPTS, n=3, seed=0, **SAMPLING)
    assert len(out) == len(PROMPTS)
    assert all(len(group) == 3 and all(isinstance(c, str) for c in group) for group in out)
    assert all(len(c) <= SAMPLING["max_new_tokens"] for group in out for c in group)  # one char per token
    assert len({c for group in out for c in group}) > 6  # sampling gives different completions


def test_seed_determinism_and_caller_rng_untouched(peaky_student, tokenizer):
    backend = HFBackend(peaky_student, tokenizer, batch_size=4, show_progress=False)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = backend.generate(PROMPTS, n=2, seed=7, **SAMPLING)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert backend.generate(PROMPTS, n=2, seed=7, **SAMPLING) == first
    assert backend.generate(PROMPTS, n=2, seed=8, **SAMPLING) != first


def test_greedy_is_temperature_zero_and_matches_unpadded_generate(peaky_student, tokenizer):
    backend = HFBackend(peaky_student, tokenizer, batch_size=3, show_progress=False)
    greedy = backend.generate(PROMPTS, n=2, max_new_tokens=12, temperature=0.0, top_p=0.95, seed=0)
    assert all(group[0] == group[1] for group in greedy)
    # batched and left-padded must give what each prompt gives alone, decoded greedily by hand
    for prompt, group in zip(PROMPTS, greedy):
        ids = torch.tensor([encode_prompt(tokenizer, prompt)])  # (1, P)
        out = peaky_student.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=12,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )  # (1, P + new)
        assert group[0] == tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert any(len(group[0]) < 12 for group in greedy)  # some stopped at eos: padding was exercised


class _ScriptedModel:
    """Stands in for a model whose ``generate`` appends fixed tokens, to test how its output is decoded."""

    def __init__(self, new_tokens, eos_ids):
        self.new_tokens = torch.tensor(new_tokens)  # (B, new)
        self.generation_config = GenerationConfig(eos_token_id=eos_ids)
        self.device = torch.device("cpu")
        self.training = False

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def generate(self, input_ids, attention_mask, generation_config):
        return torch.cat([input_ids, self.new_tokens[: input_ids.shape[0]]], dim=1)  # (B, P + new)


def test_decoding_cuts_at_any_eos_id(tokenizer):
    a, b = tokenizer.convert_tokens_to_ids(["a", "b"])
    eos, other_eos = tokenizer.eos_token_id, 40  # 40 is an ordinary character, declared an eos id
    new = [[a, b, eos, a], [a, other_eos, b, b], [b, b, b, b]]
    backend = HFBackend(_ScriptedModel(new, [eos, other_eos]), tokenizer, show_progress=False)
    texts = backend.generate(["1", "22", "333"], n=1, max_new_tokens=4, temperature=0.0, top_p=1.0, seed=0)
    assert texts == [["ab"], ["a"], ["bbbb"]]  # text after the first eos is dropped, special or not


def test_invalid_arguments(peaky_student, tokenizer):
    backend = HFBackend(peaky_student, tokenizer, show_progress=False)
    with pytest.raises(ValueError, match="n must be >= 1"):
        backend.generate(PROMPTS, n=0, seed=0, **SAMPLING)
    with pytest.raises(ValueError, match="top_p"):
        backend.generate(PROMPTS, n=1, max_new_tokens=4, temperature=1.0, top_p=0.0, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        HFBackend(peaky_student, tokenizer, batch_size=0)


@pytest.mark.skipif(
    "vllm" in sys.modules or __import__("importlib").util.find_spec("vllm"), reason="vllm is installed"
)
def test_vllm_backend_without_vllm_says_how_to_install():
    with pytest.raises(ImportError, match=r"pip install 'rlad\[vllm\]'"):
        VLLMBackend("some/model")
    assert "rlad[vllm]" in VLLM_INSTALL_HINT


def _request(texts, shuffle=True):
    outputs = [SimpleNamespace(index=i, text=t) for i, t in enumerate(texts)]
    return SimpleNamespace(outputs=outputs[::-1] if shuffle else outputs)


def test_completions_from_vllm_orders_by_index_and_checks_n():
    outputs = [_request(["a0", "a1", "a2"]), _request(["b0", "b1", "b2"])]
    assert completions_from_vllm(outputs, n=3) == [["a0", "a1", "a2"], ["b0", "b1", "b2"]]
    with pytest.raises(ValueError, match="2 completions for prompt 0, expected n=3"):
        completions_from_vllm([_request(["a0", "a1"])], n=3)


def test_vllm_backend_with_a_fake_vllm(monkeypatch, tokenizer):
    calls = []

    class FakeLLM:
        def __init__(self, model, **kwargs):
            self.kwargs = {"model": model, **kwargs}

        def get_tokenizer(self):
            return tokenizer

        def generate(self, requests, params, use_tqdm):
            calls.append((requests, params))
            return [_request([f"{r['prompt_token_ids'][-1]}:{j}" for j in range(params.n)]) for r in requests]

    fake = SimpleNamespace(LLM=FakeLLM, SamplingParams=lambda **kw: SimpleNamespace(**kw))
    monkeypatch.setitem(sys.modules, "vllm", fake)
    backend = VLLMBackend("tiny", tensor_parallel_size=1, max_model_len=64)
    assert backend.llm.kwargs["max_model_len"] == 64

    out = backend.generate(PROMPTS[:2], n=3, max_new_tokens=5, temperature=0.6, top_p=0.9, seed=3)
    requests, params = calls[-1]
    assert requests[0]["prompt_token_ids"] == encode_prompt(tokenizer, PROMPTS[0])
    assert (params.n, params.max_tokens, params.temperature, params.top_p, params.top_k, params.seed) == (
        3,
        5,
        0.6,
        0.9,
        -1,
        3,
    )
    last = [r["prompt_token_ids"][-1] for r in requests]
    assert out == [[f"{last[0]}:{j}" for j in range(3)], [f"{last[1]}:{j}" for j in range(3)]]

    greedy = backend.generate(PROMPTS[:2], n=3, max_new_tokens=5, temperature=0.0, top_p=0.9, seed=3)
    assert calls[-1][1].n == 1  # decoded once, repeated
    assert greedy == [[f"{last[0]}:0"] * 3, [f"{last[1]}:0"] * 3]
