"""Generate test/fixtures/bpe-vocab/: a small CLIPTokenizer folder (vocab.json + merges.txt) and the ids
the reference tokenizer (clip_bpe.py) gives for a set of prompts. Standard library only; run from the
repository root with either Python:

    /usr/bin/python3 -m tools.sd_reference.make_clip_bpe_fixture

The vocabulary is built the way CLIP's is (simple_tokenizer.py): the 256 byte symbols in
bytes_to_unicode order, the same 256 with "</w>", one entry per merge (the concatenated pair), then
<|startoftext|> and <|endoftext|>. The merges are learned here by plain BPE over CORPUS (pieces from
clip_bpe's pre-tokeniser, most frequent adjacent pair first, ties broken by the pair's text, down to
pairs seen once, up to NUM_MERGES), skipping a pair whose concatenation is already a token, so that
every token string has exactly one id, as in CLIP's vocabulary. Files are written deterministically
(two runs give identical bytes).

Self-checks (any failure raises):
- the hand-written pre-tokeniser equals the original regex pattern (only when the third-party `regex`
  module is importable, as in the pyenv Python here; Debian's python3 has no `regex` and skips this);
- for every piece of every prompt, simple_tokenizer's BPE (merge every occurrence of the best pair) gives
  the same tokens as the heap-ordered BPE of Hugging Face tokenizers / tokenizers.js (merge the
  lowest-ranked pair occurrence, leftmost first, one at a time);
- every prompt's tokens are in the vocabulary (no unknown token needed), the folder is under 100 KB.
"""

import heapq
import json
import os

from . import clip_bpe

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "bpe-vocab")
NUM_MERGES = 400
MAX_LENGTH = 16

CORPUS = """
a photo of a cat sitting on a red chair, high quality, detailed
a photograph of a dog running on the beach at sunset
a painting of a mountain landscape with a lake and trees
portrait of a woman with red hair, oil painting, detailed face
a cat and a dog playing in the garden, bright colors
a red car parked by the sea, cinematic lighting, photo
an astronaut riding a horse on mars, digital art
a house in the forest, snow, winter evening, warm light
a bowl of fruit on a wooden table, still life painting
city street at night with neon lights and rain, photo
a small boat on the ocean under a cloudy sky
a castle on a hill, fantasy art, highly detailed
a cup of coffee on a table in a cafe, morning light
the moon over the mountains, stars in the night sky
a bird sitting on a branch of a tree in spring
a red apple and a green pear on a white plate
close up photo of a flower with water drops
two cats sleeping on a sofa in the living room
a painting of the sea with waves and a lighthouse
a dog with a red ball in the park, sunny day
masterpiece, best quality, high resolution, sharp focus
a watercolor painting of a village by the river
a black and white photo of an old man smiling
a forest path in autumn with orange leaves
a robot standing in a field of flowers, digital painting
a portrait photo of a young girl in a garden
a city skyline at sunset, photo, wide angle
a blue car and a yellow car on the road
it's a cat, the dog's ball, we're here, they've gone, i'm fine, you'll see, she'd go, don't stop
a cafe with tables and chairs, warm colors, painting
a café in paris, café au lait, crème brûlée on a plate
a cute 🐱 cat and a 🐶 dog, kawaii sticker
"""

PROMPTS = [
    ("covered words", "a photo of a cat"),
    ("upper case", "A PHOTO OF A CAT"),
    ("punctuation", "a red car, parked by the sea."),
    ("digits (one token each)", "3 cats and 12 dogs in 2024"),
    ("contractions", "it's the dog's ball, we're here, they've gone, I'm ok, you'll see, she'd go, don't"),
    ("whitespace runs, tabs, newlines, leading and trailing spaces", "  a   cat \t on\n the    mat  "),
    ("non-ASCII letters (2-byte UTF-8)", "café au lait"),
    ("decomposed input, NFC-composed first", "cafe\u0301 au lait"),
    ("upper-case non-ASCII", "CAFÉ AU LAIT"),
    ("emoji (4-byte UTF-8)", "a cute 🐱 emoji"),
    ("CJK run (one piece)", "猫の写真"),
    ("word not covered by merges", "qzxjv wkbf"),
    ("exclamation marks are text, not padding", "wow! so bright!!!"),
    ("prompt-weighting syntax", "(masterpiece:1.2), [blurry]"),
    ("literal special token", "a cat <|endoftext|> a dog"),
    ("empty prompt", ""),
    (
        "longer than max_length: truncated, EOS kept last",
        "a photograph of a dog running on the beach at sunset, a painting of a mountain landscape",
    ),
]


def learn_merges(corpus, count):
    words = {}
    for line in corpus.strip().split("\n"):
        for piece in clip_bpe.pre_tokenize(clip_bpe.clean(line), specials=()):
            encoded = clip_bpe.byte_encode(piece)
            word = tuple(encoded[:-1]) + (encoded[-1] + "</w>",)
            words[word] = words.get(word, 0) + 1
    base = list(clip_bpe.BYTE_ENCODER.values())
    known = set(base) | {b + "</w>" for b in base}
    merges = []
    while len(merges) < count:
        stats = {}
        for word, freq in words.items():
            for pair in zip(word, word[1:]):
                stats[pair] = stats.get(pair, 0) + freq
        candidates = sorted(((-f, p) for p, f in stats.items() if p[0] + p[1] not in known))
        if not candidates:
            break
        first, second = best = candidates[0][1]
        merges.append(best)
        known.add(first + second)
        merged_words = {}
        for word, freq in words.items():
            out, k = [], 0
            while k < len(word):
                if k < len(word) - 1 and word[k] == first and word[k + 1] == second:
                    out.append(first + second)
                    k += 2
                else:
                    out.append(word[k])
                    k += 1
            merged_words[tuple(out)] = merged_words.get(tuple(out), 0) + freq
        words = merged_words
    return merges


def build_vocab(merges):
    base = list(clip_bpe.BYTE_ENCODER.values())
    tokens = base + [b + "</w>" for b in base] + [a + b for a, b in merges] + list(clip_bpe.SPECIALS)
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens), "token strings must be unique"
    return vocab


def heap_bpe(ranks, token):
    """Heap-ordered BPE as Hugging Face tokenizers and tokenizers.js run it (for the self-check)."""
    symbols = list(token[:-1]) + [token[-1] + "</w>"]
    alive = [True] * len(symbols)
    nxt = list(range(1, len(symbols))) + [-1]
    prv = [-1] + list(range(len(symbols) - 1))
    heap = []
    for i in range(len(symbols) - 1):
        if (symbols[i], symbols[i + 1]) in ranks:
            heap.append((ranks[(symbols[i], symbols[i + 1])], i, symbols[i], symbols[i + 1]))
    heapq.heapify(heap)
    while heap:
        _, i, a, b = heapq.heappop(heap)
        j = nxt[i]
        if not alive[i] or j < 0 or symbols[i] != a or symbols[j] != b:
            continue  # stale entry
        symbols[i] = a + b
        alive[j] = False
        nxt[i] = nxt[j]
        if nxt[j] >= 0:
            prv[nxt[j]] = i
        for left in (prv[i], i):
            right = nxt[left] if left >= 0 else -1
            if left >= 0 and right >= 0 and (symbols[left], symbols[right]) in ranks:
                heapq.heappush(heap, (ranks[(symbols[left], symbols[right])], left, symbols[left], symbols[right]))
    out, i = [], 0
    while i >= 0:
        out.append(symbols[i])
        i = nxt[i]
    return out


def check_pre_tokenizer(texts):
    try:
        import regex  # third-party; present in some Pythons only
    except ImportError:
        print("regex module not available: pre-tokeniser vs original pattern check skipped")
        return
    pattern = regex.compile(
        r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
        regex.IGNORECASE,
    )
    for text in texts:
        cleaned = clip_bpe.clean(text)
        assert clip_bpe.pre_tokenize(cleaned) == pattern.findall(cleaned), text
    print(f"pre-tokeniser equals the original pattern on {len(texts)} texts")


def main():
    merges = learn_merges(CORPUS, NUM_MERGES)
    vocab = build_vocab(merges)
    tok = clip_bpe.ClipBpe(vocab, merges)
    check_pre_tokenizer([p for _, p in PROMPTS] + CORPUS.strip().split("\n"))

    bos, eos, bang = vocab[clip_bpe.BOS], vocab[clip_bpe.EOS], vocab["!"]
    cases = []
    for name, prompt in PROMPTS:
        for piece in clip_bpe.pre_tokenize(clip_bpe.clean(prompt)):
            if piece not in clip_bpe.SPECIALS:
                encoded = clip_bpe.byte_encode(piece)
                assert tok.bpe(encoded) == heap_bpe(tok.ranks, encoded), (prompt, piece)
        tokens = tok.tokens(prompt)
        cases.append(
            {
                "name": name,
                "prompt": prompt,
                "tokens": tokens,
                "ids": tok.encode(prompt),
                "input_ids": {
                    "pad_endoftext": tok.sequence_ids(prompt, MAX_LENGTH, eos),
                    "pad_exclamation": tok.sequence_ids(prompt, MAX_LENGTH, bang),
                },
            }
        )
    assert any(len(c["ids"]) > MAX_LENGTH - 2 for c in cases), "no truncation case"

    os.makedirs(os.path.join(OUT, "pad-exclamation"), exist_ok=True)
    files = {}
    files["vocab.json"] = json.dumps(vocab, ensure_ascii=False, separators=(",", ":")) + "\n"
    files["merges.txt"] = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    files["special_tokens_map.json"] = json.dumps(special_tokens_map(clip_bpe.EOS), indent=2) + "\n"
    files["tokenizer_config.json"] = json.dumps(tokenizer_config(clip_bpe.EOS), indent=2) + "\n"
    files["pad-exclamation/special_tokens_map.json"] = json.dumps(special_tokens_map("!"), indent=2) + "\n"
    files["pad-exclamation/tokenizer_config.json"] = json.dumps(tokenizer_config("!"), indent=2) + "\n"
    files["expected.json"] = json.dumps(
        {
            "generator": "tools/sd_reference/make_clip_bpe_fixture.py (reference: tools/sd_reference/clip_bpe.py)",
            "max_length": MAX_LENGTH,
            "merges": len(merges),
            "vocab_size": len(vocab),
            "bos_id": bos,
            "eos_id": eos,
            "pad_ids": {"pad_endoftext": eos, "pad_exclamation": bang},
            "cases": cases,
        },
        ensure_ascii=False,
        indent=1,
    ) + "\n"
    total = 0
    for name, text in files.items():
        path = os.path.join(OUT, name)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        size = os.path.getsize(path)
        total += size
        print(f"{size:>7}  {os.path.relpath(path, ROOT)}")
    print(f"{total:>7}  total; {len(merges)} merges, vocab {len(vocab)}, {len(cases)} prompts")
    assert total < 100 * 1024, "bpe-vocab fixture exceeds 100 KB"


def _added(content):
    return {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}


def special_tokens_map(pad):
    """As SD folders write it: SD 1.x pads with <|endoftext|>, SD 2.x with "!" (id 0)."""
    eos = _added(clip_bpe.EOS)
    return {"bos_token": _added(clip_bpe.BOS), "eos_token": eos, "pad_token": pad, "unk_token": dict(eos)}


def tokenizer_config(pad):
    config = {
        "add_prefix_space": False,
        "bos_token": dict(_added(clip_bpe.BOS), __type="AddedToken"),
        "do_lower_case": True,
        "eos_token": dict(_added(clip_bpe.EOS), __type="AddedToken"),
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": pad,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": dict(_added(clip_bpe.EOS), __type="AddedToken"),
    }
    return config


if __name__ == "__main__":
    main()
