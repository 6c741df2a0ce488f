"""Tiny tokenizers in the two release formats, built at test time, and the ids the Python
reference libraries give for a set of prompts (the oracle for libmodel/tokenizer).

    make_tokenizers.py OUT

writes OUT/sentencepiece/tokenizer.model  SentencePiece's own trainer (PyPI sentencepiece),
                                          shaped like Grok-1's: BPE, byte fallback, split
                                          digits, whitespace kept, [PAD] [BOS] [EOS] [UNK] = 0..3
       OUT/tiktoken/tokenizer.tok.json    Grok-2's format: regular_tokens (every byte, then
                                          merges learned here), special_tokens, word_split V1
       OUT/oracle.json                    prompts, their ids (sentencepiece.encode; a
                                          tiktoken.Encoding built the way SGLang's
                                          tiktoken_tokenizer.py builds it), and each id's text
"""
import json
import os
import random
import sys
from collections import Counter

import regex
import sentencepiece as spm
import tiktoken

OUT = sys.argv[1]

# SGLang's PAT_STR_B and allowed special tokens (python/sglang/srt/tokenizer/tiktoken_tokenizer.py)
PAT_STR_B = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
ALLOWED = {"<|pad|>", "<|eos|>", "<|separator|>"} | {f"<|control{i}|>" for i in range(1, 705)} | {
    f"<|reserved_{i}|>" for i in range(3, 128)}

WORDS = ("the of and to in is was that for it with as his on be at by had are but from or have an they which "
         "one you were all we when there can been has more if will would who so no model weights layer expert "
         "Grok tokenizer checkpoint convert parity tensor shard naïve café résumé Zürich 東京 数据 🙂 Ελλάδα "
         "don't it's we're I'LL they've").split()
PUNCT = [".", ",", "!", "?", ";", ":", "...", " -", " (", ")", "\"", "'"]


def corpus(n):
    rnd = random.Random(7)
    lines = []
    for _ in range(n):
        words = []
        for _ in range(rnd.randint(3, 14)):
            w = rnd.choice(WORDS)
            if rnd.random() < 0.1:
                w = str(rnd.randint(0, 99999))
            if rnd.random() < 0.1:
                w += rnd.choice(PUNCT)
            words.append(w)
        sep = rnd.choice([" ", " ", " ", "  ", "\t", "\n"])
        lines.append(sep.join(words))
    return lines


PROMPTS = [
    "The capital of France is",
    "Hello world",
    "it's 2024: 12345 tokens, don't panic!",
    "  leading and trailing spaces   ",
    "tabs\tand\nnew\n\nlines\r\n",
    "naïve café in Zürich, 東京 and 数据 🙂",
    "Human: what is Grok?<|separator|>\n\nAssistant:",
    "text with <|notallowed|> and <|eos|> inside",
    "I'LL SAY IT'S YOU'VE",
    "nbsp\u00a0here, em\u2003space, ideographic\u3000space",
    "punctuation!!! ??? ... --- ((()))",
    "next\u0085line, line\u2028separator, zero\u200bwidth, x\u00b2 \u0660\u0661 \u01c5ungla",
    "x",
]


def train_sentencepiece(lines):
    path = os.path.join(OUT, "sentencepiece")
    os.makedirs(path, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=os.path.join(path, "tokenizer"), vocab_size=600,
        model_type="bpe", byte_fallback=True, split_digits=True, remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, character_coverage=0.9995, pad_id=0, bos_id=1, eos_id=2, unk_id=3,
        pad_piece="[PAD]", bos_piece="[BOS]", eos_piece="[EOS]", unk_piece="[UNK]", num_threads=1,
        minloglevel=2)
    os.remove(os.path.join(path, "tokenizer.vocab"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(path, "tokenizer.model"))
    anchor = sp.encode("a")
    texts = []
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if sp.is_byte(i):
            t = bytes([int(piece[3:5], 16)])
        elif sp.is_control(i) or sp.is_unknown(i):
            t = piece.encode()
        else:  # what the piece adds after a text (SentencePiece drops a leading space only at the start)
            t = sp.decode(anchor + [i]).encode()[len(sp.decode(anchor).encode()):]
        texts.append(list(t))
    return {"pieces": sp.get_piece_size(), "ids": [sp.encode(p) for p in PROMPTS], "token_bytes": texts}


def train_bpe(lines, merges):
    """Byte-level BPE over the V1 split: every byte is a token (0..255), then `merges` merges."""
    pieces = Counter()
    for line in lines:
        for m in regex.findall(PAT_STR_B, line):
            pieces[tuple(bytes([b]) for b in m.encode())] += 1
    vocab = [bytes([b]) for b in range(256)]
    for _ in range(merges):
        pairs = Counter()
        for word, n in pieces.items():
            for a, b in zip(word, word[1:]):
                pairs[a, b] += n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        vocab.append(a + b)
        merged = Counter()
        for word, n in pieces.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        pieces = merged
    return vocab


def write_tok_json(lines):
    path = os.path.join(OUT, "tiktoken")
    os.makedirs(path, exist_ok=True)
    vocab = train_bpe(lines, 300)
    specials = ["<|pad|>", "<|separator|>", "<|eos|>", "<|control1|>", "<|reserved_3|>", "<|notallowed|>"]
    regular = [{"bytes": list(b), "token": i} for i, b in enumerate(vocab)]
    special = [{"bytes": list(s.encode()), "token": len(vocab) + i} for i, s in enumerate(specials)]
    tok = {"regular_tokens": regular, "special_tokens": special, "word_split": "V1",
           "vocab_size": len(regular) + len(special),
           "default_allowed_special": [list(b"<|separator|>")]}
    with open(os.path.join(path, "tokenizer.tok.json"), "w") as f:
        json.dump(tok, f)
    # As SGLang's TiktokenTokenizer builds and calls it.
    enc = tiktoken.Encoding(name="tiny", pat_str=PAT_STR_B, explicit_n_vocab=tok["vocab_size"],
                            mergeable_ranks={bytes(e["bytes"]): e["token"] for e in regular},
                            special_tokens={bytes(e["bytes"]).decode(): e["token"] for e in special})
    ids = [enc.encode(p, allowed_special=set(ALLOWED), disallowed_special=()) for p in PROMPTS]
    texts = [list(enc.decode_single_token_bytes(i)) for i in range(enc.n_vocab)]
    return {"pieces": enc.n_vocab, "ids": ids, "token_bytes": texts}


lines = corpus(4000)
oracle = {"prompts": PROMPTS, "sentencepiece": train_sentencepiece(lines), "tiktoken": write_tok_json(lines)}
with open(os.path.join(OUT, "oracle.json"), "w") as f:
    json.dump(oracle, f, ensure_ascii=False)
print(f"make_tokenizers: {oracle['sentencepiece']['pieces']} SentencePiece pieces, "
      f"{oracle['tiktoken']['pieces']} tiktoken ids, {len(PROMPTS)} prompts -> {OUT}")
