"""A tiny word-level tokenizer standing in for CLIP's BPE in the fixtures.

It is written out as tokenizer/tokenizer.json in the Hugging Face `tokenizers` JSON format
(https://github.com/huggingface/tokenizers: a "WordLevel" model, a "Lowercase" normalizer, the
"Whitespace" pre-tokenizer, whose split is the regex \\w+|[^\\w\\s]+, a "TemplateProcessing"
post-processor adding <|startoftext|> ... <|endoftext|>, right truncation to max_length and fixed right
padding with <|endoftext|>), plus tokenizer_config.json / special_tokens_map.json so
transformers' PreTrainedTokenizerFast could load the folder.

`encode` is the same algorithm in Python, used to produce the expected ids in the fixtures:
lowercase; split into \\w+ runs and runs of other non-space characters; map each word to its id
(<|unk|> if absent); keep at most max_length - 2 words; add BOS / EOS; pad with EOS to max_length.
This mirrors what CLIPTokenizer does for SD (BOS + at most 75 tokens + EOS, padded to 77 with EOS in
SD 1.x), minus BPE.
"""

import re

BOS, EOS, UNK = "<|startoftext|>", "<|endoftext|>", "<|unk|>"
SPECIALS = [BOS, EOS, UNK]  # ids 0, 1, 2

# 61 words + 3 specials = 64 = the tiny text encoders' vocab_size.
WORDS = (
    ", . a an the of on in with and at "
    "red green blue yellow orange purple black white gray "
    "circle square triangle star line dot "
    "left right top bottom center middle corner side "
    "big small large tiny two three many "
    "cat dog house tree sun moon sky sea mountain flower car bird "
    "photo painting drawing sketch background detailed bright dark"
).split()

VOCAB = {token: index for index, token in enumerate(SPECIALS + WORDS)}
assert len(VOCAB) == 64, len(VOCAB)

SPLIT = re.compile(r"\w+|[^\w\s]+")


def encode(text, max_length, pad=True):
    """Token ids for `text`: [BOS] + words (truncated to max_length - 2) + [EOS], padded with EOS."""
    words = SPLIT.findall(text.lower())[: max_length - 2]
    ids = [VOCAB[BOS]] + [VOCAB.get(word, VOCAB[UNK]) for word in words] + [VOCAB[EOS]]
    if pad:
        ids += [VOCAB[EOS]] * (max_length - len(ids))
    return ids


def _added_token(token):
    return {
        "id": VOCAB[token],
        "content": token,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def tokenizer_json(max_length):
    """The tokenizer.json document (a dict ready for json.dump)."""
    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": max_length, "strategy": "LongestFirst", "stride": 0},
        "padding": {
            "strategy": {"Fixed": max_length},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": VOCAB[EOS],
            "pad_type_id": 0,
            "pad_token": EOS,
        },
        "added_tokens": [_added_token(token) for token in SPECIALS],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": BOS, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": EOS, "type_id": 0}},
            ],
            "pair": [
                {"SpecialToken": {"id": BOS, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 1}},
                {"SpecialToken": {"id": EOS, "type_id": 1}},
            ],
            "special_tokens": {
                BOS: {"id": BOS, "ids": [VOCAB[BOS]], "tokens": [BOS]},
                EOS: {"id": EOS, "ids": [VOCAB[EOS]], "tokens": [EOS]},
            },
        },
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": VOCAB, "unk_token": UNK},
    }


def tokenizer_config_json(max_length):
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": UNK,
        "pad_token": EOS,
        "padding_side": "right",
        "do_lower_case": True,
    }


def special_tokens_map_json():
    return {"bos_token": BOS, "eos_token": EOS, "unk_token": UNK, "pad_token": EOS}
