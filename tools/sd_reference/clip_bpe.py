"""CLIP's byte-level BPE tokenizer in plain Python (standard library only), as a reference for the
CLIPTokenizer folders (vocab.json + merges.txt) that PromptTokenizer reads.

Written from the semantics of openai/CLIP `clip/simple_tokenizer.py` (SimpleTokenizer.encode / bpe), the
tokenizer SD 1.x was trained with and that OpenCLIP (SD 2.x) reuses:

1. Text clean-up. simple_tokenizer runs `ftfy.fix_text` (whose default includes Unicode NFC), then
   `html.unescape` twice, strips, collapses every whitespace run to one space, strips again and lower-cases.
   Here: NFC, whitespace runs -> one space, strip, `str.lower()`. ftfy's mojibake repair and the HTML
   unescaping are left out (ftfy is not a standard-library module, and Hugging Face's fast CLIP tokenizer,
   which the engine follows, does neither; see transformers' `convert_slow_tokenizer.py`, CLIPConverter:
   normalizers NFC, Replace(\\s+ -> " "), Lowercase).
2. Pre-tokenisation with simple_tokenizer's pattern, alternatives tried in order at each position:
       <\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+
   (a position where nothing matches, i.e. whitespace, is skipped). \\p{L} / \\p{N} are Unicode general
   categories L* / N* (`unicodedata.category`); \\s is the Unicode White_Space property (the 25 code points
   listed below), which is what Rust's regex, Oniguruma and tokenizers.js (`\\p{White_Space}`) use.
3. Each piece's UTF-8 bytes are mapped to printable characters with GPT-2's reversible byte table
   (`bytes_to_unicode`: the 188 printable Latin-1 bytes map to themselves, the other 68 bytes to
   U+0100.. in byte order).
4. BPE: the piece becomes a sequence of characters with "</w>" appended to the last one; repeatedly the
   adjacent pair with the lowest merge rank is found and *every* occurrence of it is merged, left to
   right, until no adjacent pair has a rank. The two special tokens are never split.
5. Tokens -> ids with vocab.json.

merges.txt: the first line is a "#version" header; simple_tokenizer and transformers' CLIPTokenizer use
lines 1 .. 48894 (`[1 : 49152 - 256 - 2 + 1]`), i.e. at most 48,894 merges; the same cap applies here.

`sequence_ids` adds what an SD pipeline adds: BOS, at most max_length - 2 tokens, EOS, padded with the
pad id to max_length.
"""

import json
import unicodedata

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
SPECIALS = (BOS, EOS)
MAX_MERGES = 49152 - 256 - 2  # simple_tokenizer / transformers CLIPTokenizer cap
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")

# Unicode White_Space (PropList.txt): what \s means for the engine's regex.
WHITE_SPACE = frozenset(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680]
    + list(range(0x2000, 0x200B))
    + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)


def bytes_to_unicode():
    """byte -> character: printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves, the
    remaining bytes, in increasing order, to chr(256), chr(257), ... Dict order is the order CLIP's
    vocabulary lists the base symbols in (printable bytes first)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_ENCODER = bytes_to_unicode()


def is_space(ch):
    return ord(ch) in WHITE_SPACE


def is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def is_number(ch):
    return unicodedata.category(ch).startswith("N")


def clean(text):
    """NFC, whitespace runs -> one space, strip, lower-case (step 1)."""
    text = unicodedata.normalize("NFC", text)
    out, in_space = [], False
    for ch in text:
        if is_space(ch):
            in_space = True
            continue
        if in_space and out:
            out.append(" ")
        in_space = False
        out.append(ch)
    return "".join(out).lower()


def pre_tokenize(text, specials=SPECIALS):
    """simple_tokenizer's pattern, as a hand-written scanner (step 2)."""
    pieces, i, n = [], 0, len(text)
    while i < n:
        hit = next((s for s in specials if text.startswith(s, i)), None)
        if hit is None:
            hit = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
        if hit is not None:
            pieces.append(hit)
            i += len(hit)
            continue
        ch = text[i]
        if is_letter(ch):
            j = i + 1
            while j < n and is_letter(text[j]):
                j += 1
        elif is_number(ch):
            j = i + 1
        elif not is_space(ch):
            j = i + 1
            while j < n and not (is_space(text[j]) or is_letter(text[j]) or is_number(text[j])):
                j += 1
        else:
            i += 1
            continue
        pieces.append(text[i:j])
        i = j
    return pieces


def byte_encode(piece):
    return "".join(BYTE_ENCODER[b] for b in piece.encode("utf-8"))


def read_merges(text):
    """Merge pairs from merges.txt: a leading "#version" line skipped, at most MAX_MERGES pairs."""
    lines = text.strip().split("\n")
    if lines and lines[0].startswith("#version"):
        lines = lines[1:]
    merges = []
    for line in lines[:MAX_MERGES]:
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"merges.txt: bad line {line!r}")
        merges.append(tuple(parts))
    return merges


class ClipBpe:
    def __init__(self, vocab, merges):
        self.vocab = dict(vocab)
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.cache = {s: [s] for s in SPECIALS}

    @classmethod
    def from_files(cls, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            vocab = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            merges = read_merges(f.read())
        return cls(vocab, merges)

    def bpe(self, token):
        """Step 4 on one byte-mapped piece: the list of its BPE tokens."""
        if token in self.cache:
            return list(self.cache[token])
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(word[k], word[k + 1]) for k in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            first, second = best
            merged, k = [], 0
            while k < len(word):
                if k < len(word) - 1 and word[k] == first and word[k + 1] == second:
                    merged.append(first + second)
                    k += 2
                else:
                    merged.append(word[k])
                    k += 1
            word = merged
        self.cache[token] = list(word)
        return word

    def tokens(self, text):
        out = []
        for piece in pre_tokenize(clean(text)):
            out.extend(self.bpe(piece if piece in SPECIALS else byte_encode(piece)))
        return out

    def encode(self, text):
        """Token ids of `text`, without BOS / EOS."""
        return [self.vocab[t] for t in self.tokens(text)]

    def sequence_ids(self, text, max_length, pad_id):
        """BOS + at most max_length - 2 ids + EOS, padded with pad_id to max_length."""
        ids = [self.vocab[BOS]] + self.encode(text)[: max_length - 2] + [self.vocab[EOS]]
        return ids + [pad_id] * (max_length - len(ids))
