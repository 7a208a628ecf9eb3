"""The embedded model's word-level tokenizer: the grammar's words plus CLIP's special tokens.

Same format and algorithm as tools/sd_reference/tokenizer.py (which the engine already reads: a
`tokenizers` WordLevel model, Lowercase normalizer, Whitespace pre-tokenizer, BOS ... EOS template,
fixed right padding with EOS), with this model's own vocabulary instead of the fixture vocabulary.
The JSON documents are built by sd_reference's functions and only the vocabulary is swapped, so the
two stay in one format; the special tokens keep ids 0, 1, 2 in both.
"""

from tools.sd_reference import tokenizer as reference

from .dataset import VOCABULARY

SPECIALS = reference.SPECIALS  # <|startoftext|>, <|endoftext|>, <|unk|>: ids 0, 1, 2
VOCAB = {token: index for index, token in enumerate(list(SPECIALS) + list(VOCABULARY))}
BOS, EOS, UNK = (VOCAB[token] for token in SPECIALS)


def encode(text, max_length):
    """Token ids: [BOS] + words (at most max_length - 2, unknown -> UNK) + [EOS], padded with EOS."""
    words = reference.SPLIT.findall(text.lower())[: max_length - 2]
    ids = [BOS] + [VOCAB.get(word, UNK) for word in words] + [EOS]
    return ids + [EOS] * (max_length - len(ids))


def files(max_length):
    """{file name: JSON document} of the tokenizer/ folder."""
    document = reference.tokenizer_json(max_length)
    assert [t["id"] for t in document["added_tokens"]] == [VOCAB[t] for t in SPECIALS]
    document["model"]["vocab"] = dict(VOCAB)
    return {
        "tokenizer.json": document,
        "tokenizer_config.json": reference.tokenizer_config_json(max_length),
        "special_tokens_map.json": reference.special_tokens_map_json(),
    }
