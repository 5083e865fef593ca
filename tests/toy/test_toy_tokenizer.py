"""The character tokenizer: round trips, special tokens, padding, chat template, save/load."""

import random

import pytest
from transformers import AutoTokenizer

from rlad.toy.tokenizer import DEFAULT_ALPHABET, build_char_tokenizer


@pytest.fixture(scope="module")
def tok():
    return build_char_tokenizer()


def test_one_token_per_character_with_bos(tok):
    ids = tok("90-78-10=")["input_ids"]
    assert ids[0] == tok.bos_token_id
    assert tok.convert_ids_to_tokens(ids[1:]) == list("90-78-10=")
    assert tok("90-78-10=", add_special_tokens=False)["input_ids"] == ids[1:]


def test_special_token_ids_are_fixed(tok):
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert len(tok) == 4 + len(DEFAULT_ALPHABET)


@pytest.mark.parametrize("text", ["90-78=12,12-10=2;A:2", "  two  spaces\nand a newline \n", "A&(B|!C)>D?"])
def test_round_trip_exact(tok, text):
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text


def test_round_trip_random_strings_over_alphabet(tok):
    rng = random.Random(0)
    for _ in range(200):
        text = "".join(rng.choice(DEFAULT_ALPHABET) for _ in range(rng.randint(1, 40)))
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert len(ids) == len(text)
        assert tok.decode(ids) == text


def test_unknown_characters_become_unk(tok):
    ids = tok("1~2", add_special_tokens=False)["input_ids"]
    assert ids == [tok.convert_tokens_to_ids("1"), tok.unk_token_id, tok.convert_tokens_to_ids("2")]


def test_batches_pad_on_the_left(tok):
    batch = tok(["1+2=", "12+34="], padding=True, return_tensors="pt")
    assert batch["input_ids"][0, :2].tolist() == [tok.pad_token_id] * 2
    assert batch["attention_mask"][0].tolist() == [0, 0, 1, 1, 1, 1, 1]
    assert batch["input_ids"][1, 0].item() == tok.bos_token_id


def test_chat_prompt_tokenizes_like_the_plain_prompt(tok):
    conversation = [{"role": "user", "content": "90-78-10="}]
    text = tok.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    assert text == "<bos>90-78-10="
    # transformers 5: tokenize=True returns a BatchEncoding (a dict) unless return_dict=False.
    encoded = tok.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True)
    assert encoded["input_ids"] == tok("90-78-10=")["input_ids"]
    ids = tok.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True, return_dict=False)
    assert ids == tok("90-78-10=")["input_ids"]


def test_chat_template_closes_assistant_turns_with_eos(tok):
    conversation = [{"role": "user", "content": "1+2="}, {"role": "assistant", "content": "1+2=3;A:3"}]
    assert tok.apply_chat_template(conversation, tokenize=False) == "<bos>1+2=1+2=3;A:3<eos>"


def test_save_and_load_keep_ids_padding_and_template(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "Knights: A is a knave & B?\n 90-78=12"
    assert loaded(text)["input_ids"] == tok(text)["input_ids"]
    assert loaded.decode(loaded(text)["input_ids"], skip_special_tokens=True) == text
    assert loaded.padding_side == "left"
    assert loaded.get_vocab() == tok.get_vocab()
    conversation = [{"role": "user", "content": "7+5="}]
    assert loaded.apply_chat_template(conversation, tokenize=False) == "<bos>7+5="


def test_custom_alphabet_and_options():
    tok = build_char_tokenizer("ab ", add_bos=False, padding_side="right")
    assert len(tok) == 7
    assert tok("ab a")["input_ids"] == [4, 5, 6, 4]
    assert tok.padding_side == "right"
    with pytest.raises(ValueError, match="duplicate"):
        build_char_tokenizer("abca")
    with pytest.raises(ValueError, match="padding_side"):
        build_char_tokenizer("ab", padding_side="middle")
