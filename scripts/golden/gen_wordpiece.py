#!/usr/bin/env python3
"""Reference data for deepc's WordPiece tokenizer (tests/test_wordpiece.c).

A re-implementation of BERT's tokenization.py (google-research/bert: BasicTokenizer and
WordpieceTokenizer, everything Unicode through unicodedata) and of the input building of its
run_classifier.py (convert_single_example with _truncate_seq_pair), with the word length limit
of HuggingFace's BertTokenizer (100 characters). Writes

  tests/golden/wordpiece/vocab.txt     a small BERT-layout vocabulary ([PAD] 0, [unused0..98],
                                       [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, then words,
                                       ## pieces and single characters)
  tests/golden/wordpiece/expected.txt  per case: lower_case, max_len, text_a and text_b as hex
                                       UTF-8 bytes (decoded with errors="replace", so invalid
                                       bytes become U+FFFD, which cleaning drops), the tokens of
                                       text_a, and the encoded ids, segment ids, mask and length

Usage: python3 scripts/golden/gen_wordpiece.py   (from the repository root)
"""
import os
import unicodedata

OUT = "tests/golden/wordpiece"
MAX_CHARS = 100


# ---------------------------------------------------------------- tokenization.py

def whitespace_tokenize(text):
    text = text.strip()
    if not text:
        return []
    return text.split()


def _is_whitespace(char):
    if char == " " or char == "\t" or char == "\n" or char == "\r":
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char):
    if char == "\t" or char == "\n" or char == "\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
    cp = ord(char)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese_char(cp):
    return ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF) or (0x20000 <= cp <= 0x2A6DF) or
            (0x2A700 <= cp <= 0x2B73F) or (0x2B740 <= cp <= 0x2B81F) or (0x2B820 <= cp <= 0x2CEAF) or
            (0xF900 <= cp <= 0xFAFF) or (0x2F800 <= cp <= 0x2FA1F))


class BasicTokenizer:
    def __init__(self, do_lower_case):
        self.do_lower_case = do_lower_case

    def tokenize(self, text):
        text = self._clean_text(text)
        text = self._tokenize_chinese_chars(text)
        split_tokens = []
        for token in whitespace_tokenize(text):
            if self.do_lower_case:
                token = token.lower()
                token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token))
        return whitespace_tokenize(" ".join(split_tokens))

    def _run_strip_accents(self, text):
        text = unicodedata.normalize("NFD", text)
        return "".join(c for c in text if unicodedata.category(c) != "Mn")

    def _run_split_on_punc(self, text):
        output, start_new_word = [], True
        for char in text:
            if _is_punctuation(char):
                output.append([char])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(char)
        return ["".join(x) for x in output]

    def _tokenize_chinese_chars(self, text):
        out = []
        for char in text:
            if _is_chinese_char(ord(char)):
                out.extend([" ", char, " "])
            else:
                out.append(char)
        return "".join(out)

    def _clean_text(self, text):
        out = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xFFFD or _is_control(char):
                continue
            out.append(" " if _is_whitespace(char) else char)
        return "".join(out)


class WordpieceTokenizer:
    def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=MAX_CHARS):
        self.vocab, self.unk_token, self.max_chars = vocab, unk_token, max_input_chars_per_word

    def tokenize(self, text):
        output = []
        for token in whitespace_tokenize(text):
            chars = list(token)
            if len(chars) > self.max_chars:
                output.append(self.unk_token)
                continue
            is_bad, start, sub = False, 0, []
            while start < len(chars):
                end, cur = len(chars), None
                while start < end:
                    s = "".join(chars[start:end])
                    if start > 0:
                        s = "##" + s
                    if s in self.vocab:
                        cur = s
                        break
                    end -= 1
                if cur is None:
                    is_bad = True
                    break
                sub.append(cur)
                start = end
            output.extend([self.unk_token] if is_bad else sub)
        return output


class FullTokenizer:
    def __init__(self, vocab, do_lower_case):
        self.vocab = vocab
        self.basic = BasicTokenizer(do_lower_case)
        self.wordpiece = WordpieceTokenizer(vocab)

    def tokenize(self, text):
        return [s for t in self.basic.tokenize(text) for s in self.wordpiece.tokenize(t)]


# ---------------------------------------------------------------- run_classifier.py

def _truncate_seq_pair(a, b, max_length):
    while len(a) + len(b) > max_length:
        if len(a) > len(b):
            a.pop()
        else:
            b.pop()


def encode(tok, text_a, text_b, max_len):
    tokens_a = tok.tokenize(text_a)
    tokens_b = None
    if text_b:
        tokens_b = tok.tokenize(text_b)
    if tokens_b:
        _truncate_seq_pair(tokens_a, tokens_b, max_len - 3)
    elif len(tokens_a) > max_len - 2:
        tokens_a = tokens_a[:max_len - 2]
    tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
    segs = [0] * len(tokens)
    if tokens_b:
        tokens += tokens_b + ["[SEP]"]
        segs += [1] * (len(tokens_b) + 1)
    ids = [tok.vocab[t] for t in tokens]
    n = len(ids)
    mask = [1] * n + [0] * (max_len - n)
    return ids + [0] * (max_len - n), segs + [0] * (max_len - n), mask, n


# ---------------------------------------------------------------- data

WORDS = """the a an is of and to in it i you we yes no not don t s quick brown fox jumps over lazy dog
hello world cafe naive un aff able play run runner token new line end tab here control chars zero width
text special tokens robots user code tilde pipe dash quotes single ellipsis bullet break para ideo mark
combining acute lone fine straße istanbul greek word words split piece pieces long longer sentence second
much that needs truncation more short first pair
Hello World The Café Straße Москва
οδυσσευς αθηνα σας москва елка и привет мир""".split()
PIECES = """##aff ##able ##ing ##ed ##s ##ning ##ner ##ners ##ization ##izer ##ize ##ly ##er ##est ##ful
##ness ##less ##al ##ion ##ation ##word ##piece ##ces ##eus ##ευς ##ος ##ας ##ва ##ка""".split()
SINGLES = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
           "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
           "éöüïàçßÉÖ" "αβγδεζηθικλμνξοπρσςτυφχψω" "ΑΒΓΔΕΟΣ"
           "абвгдеёжзийклмнопрстуфхцчшщъыьэюя" "МЁЙ"
           "我爱你日本語テキストのです「」、。（）—…•“”‘’"
           "\ud55c\uad6d\uc5b4\ud14d\u1112\u1161\u11ab")


def build_vocab():
    vocab = ["[PAD]"] + ["[unused%d]" % i for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for t in WORDS + PIECES + list(SINGLES) + ["##" + c for c in SINGLES]:
        if t not in vocab:
            vocab.append(t)
    return vocab


def u(s):
    return s.encode("utf-8")


TEXTS = [
    u("Héllo Wörld café naïve"),
    u("我爱你 hello"),
    u("don't!! (yes)..."),
    u("unaffable"),
    u("The quick brown fox jumps over the lazy dog."),
    u("tab\there\nnew line\r\nend\t"),
    u("control\x01chars\x07here\u200bzero\ufeffwidth\x7f\x1b[0m end"),
    u("Ὀδυσσεύς ΟΔΥΣΣΕΥΣ Ἀθηνᾶ σας"),
    u("Ёлка и Москва, йод! ПРИВЕТ мир"),
    u("a" * 101 + " ok"),
    u("ab" * 50),
    u("playing played plays runners tokenization wordpieces"),
    u("xyzzy\u2603 snowman \u2603 \u20ac5"),
    u(""),
    u("   \t\n  "),
    u("hello, world! 123 $100 #1 @user a^b `code` ~tilde|pipe"),
    u("Hello WORLD The"),
    u("full\uff0dwidth \uff21\uff22\uff23\u3000\uff58\uff08\uff59\uff09"),
    u("em\u2014dash \u201cquotes\u201d \u2018single\u2019 \u2026ellipsis \u2022 bullet"),
    u("\u300c日本語\u300dのテキスト\u3001です\u3002"),
    u("한국어 텍스트"),
    u("\u0130stanbul \ufb01ne Stra\u00dfe STRASSE"),
    u("no\u00a0break\u2028line\u2029para\u3000ideo\u2003mark"),
    u("e\u0301 combining acute, lone \u0301 mark caf\u00e9"),
    u("A.B.C. U.S.A"),
    b"bad\xffbyte \xe4\xb8 trunc \xed\xa0\x80 surrogate \xc0\xaf overlong caf\xc3\xa9 \xf4\x90\x80\x80 big",
    u("\u03a3\u0391\u03a3. \u03a3 \u0391\u03a3'\u0392 \u039f\u03a3\u0301"),
    u("I \u2764\ufe0f \U0001f916 robots"),
    u("1,000.50 3.14159"),
    u("[CLS] special [SEP] tokens [MASK]"),
]

PAIRS = [
    (u("the quick brown fox jumps over the lazy dog"), u("hello world"), 16),
    (u("short"), u("a much longer second sentence that needs truncation here and more words"), 16),
    (u("hello"), u(""), 16),
    (u("hello"), u("   \x01 "), 16),
    (u(""), u("hello world"), 16),
    (u("first sentence is long"), u("second pair"), 8),
    (u("a b"), u("c d"), 4),
    (u("a b"), u("c d"), 3),
    (u("a b c d e f"), None, 3),
    (u("Héllo Wörld"), u("Москва елка"), 16),
]


def hexs(b):
    """Hex of the bytes; "-" for None (no text_b), "=" for an empty text."""
    return "-" if b is None else b.hex() if b else "="


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab = build_vocab()
    with open(os.path.join(OUT, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    index = {t: i for i, t in enumerate(vocab)}
    cases = [(t, None, 16) for t in TEXTS] + PAIRS
    lines = ["# Generated by scripts/golden/gen_wordpiece.py (BERT's tokenization.py and run_classifier.py",
             "# input building, re-implemented with Python's unicodedata %s); do not edit." % unicodedata.unidata_version,
             "# case <lower_case> <max_len> / a <hex UTF-8, = if empty> / b <the same, - for none> / tokens <n> <tokens of a>",
             "# / ids, seg, mask: max_len values / len <unpadded length>"]
    for lower in (1, 0):
        tok = FullTokenizer(index, bool(lower))
        for a, b, max_len in cases:
            ta = a.decode("utf-8", "replace")
            tb = b.decode("utf-8", "replace") if b is not None else None
            toks = tok.tokenize(ta)
            ids, segs, mask, n = encode(tok, ta, tb, max_len)
            lines += ["case %d %d" % (lower, max_len), "a " + hexs(a), "b " + hexs(b),
                      "tokens %d %s" % (len(toks), " ".join(toks)),
                      "ids " + " ".join(map(str, ids)), "seg " + " ".join(map(str, segs)),
                      "mask " + " ".join(map(str, mask)), "len %d" % n]
    with open(os.path.join(OUT, "expected.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("%d tokens in the vocabulary, %d cases" % (len(vocab), 2 * len(cases)))


if __name__ == "__main__":
    main()
