"""Tokenizers: round trips, deterministic vocabularies, files, and the errors users meet."""

import json

import pytest

from rnnkit.data.tokenizers import (
    build_tokenizer,
    encode_documents,
    load_tokenizer,
    save_tokenizer,
    tokenizer_from_dict,
)

TEXTS = [
    "Isn't it odd? The cat sat on the mat, and the dog ran.",
    'He said "hello" (twice) to __init__ in 3.14 seconds... then left!',
    "Las Vegas, Nevada: the lights never sleep.\nA second line\twith a tab.",
    "Ünïcödé wörds, emoji 🙂 and 日本語 too.",
]
# Text that follows the decoder's spacing convention comes back unchanged at word level.
WORD_EXACT = ["Isn't it?", 'He said "hello" (twice), then left!', "Pi is 3.14; e is 2.72."]
KINDS_OPTIONS = [("char", {}), ("word", {}), ("bpe", {"vocab_size": 300})]


@pytest.mark.parametrize(("kind", "options"), KINDS_OPTIONS)
def test_special_tokens_have_the_same_ids_in_every_kind(kind, options):
    tok = build_tokenizer(kind, TEXTS, **options)
    assert tok.kind == kind
    assert (tok.unk_id, tok.eos_id) == (0, 1)
    assert (tok.token(0), tok.token(1)) == ("<unk>", "<eos>")
    assert (tok.id("<unk>"), tok.id("<eos>"), tok.id("no such token ~~")) == (0, 1, 0)


def test_char_round_trip_is_exact_and_unseen_characters_are_unknown():
    tok = build_tokenizer("char", TEXTS)
    for text in TEXTS:
        assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size == len(set("".join(TEXTS))) + 2
    assert tok.encode("Z") == [tok.unk_id]  # no capital Z in the texts
    assert tok.decode(tok.encode("aZ")) == "a<unk>"


@pytest.mark.parametrize(
    ("punctuation", "words"),
    [
        ("split", ["Isn't", "it", "?", "3.14", "__init__", "(", "x", ")", ".", ".", "Las"]),
        ("strip", ["Isn't", "it", "3.14", "__init__", "x", "Las"]),
        ("keep", ["Isn't", "it?", "3.14", "__init__(x)..", "Las"]),
    ],
)
def test_word_regex(punctuation, words):
    tok = build_tokenizer("word", TEXTS, punctuation=punctuation)
    assert tok.words("Isn't it? 3.14 __init__(x).. Las") == words


def test_word_round_trip_with_split_punctuation():
    tok = build_tokenizer("word", WORD_EXACT)
    for text in WORD_EXACT:
        assert tok.decode(tok.encode(text)) == text
    # Documented losses: exact whitespace, and case when lowercased.
    assert tok.decode(tok.encode("Isn't   it ?")) == "Isn't it?"
    lower = build_tokenizer("word", WORD_EXACT, lowercase=True)
    assert lower.decode(lower.encode(WORD_EXACT[0])) == "isn't it?"
    assert lower.words("ISN'T It") == ["isn't", "it"]


def test_bpe_round_trip_is_exact_even_for_unseen_characters():
    tok = build_tokenizer("bpe", TEXTS, vocab_size=300)
    assert tok.vocab_size == 300
    for text in [*TEXTS, "Zebra Ωmega ☃ unseen", "  two  spaces  "]:
        ids = tok.encode(text)
        assert tok.unk_id not in ids
        assert tok.decode(ids) == text
    # A literal "<eos>" in the text is text, not the end of a document.
    assert tok.eos_id not in tok.encode("a <eos> b")


@pytest.mark.parametrize(("kind", "options"), KINDS_OPTIONS)
def test_building_twice_gives_identical_tokenizers(kind, options):
    first = build_tokenizer(kind, TEXTS, lowercase=True, **options)
    second = build_tokenizer(kind, iter(TEXTS), lowercase=True, **options)
    assert first.to_dict() == second.to_dict()
    json.dumps(first.to_dict())  # JSON-able


def test_vocabulary_cap_and_min_count_turn_rare_words_into_unk():
    texts = ["b a c a b a d", "c e e"]  # a:3, b:2, c:2, e:2, d:1
    capped = build_tokenizer("word", texts, vocab_size=5)
    assert capped.to_dict()["tokens"] == ["<unk>", "<eos>", "a", "b", "c"]  # ties alphabetical
    assert capped.encode("a e d") == [2, 0, 0]
    frequent = build_tokenizer("word", texts, min_count=2)
    assert frequent.vocab_size == 6 and frequent.encode("d") == [frequent.unk_id]
    chars = build_tokenizer("char", ["aaab b"], vocab_size=3)
    assert chars.encode("ab") == [2, 0]


@pytest.mark.parametrize(("kind", "options"), KINDS_OPTIONS)
def test_save_and_load_round_trip(tmp_path, kind, options):
    tok = build_tokenizer(kind, TEXTS, lowercase=True, punctuation="split", **options)
    save_tokenizer(tok, tmp_path / "vocab.json")
    loaded = load_tokenizer(tmp_path / "vocab.json")
    assert json.loads((tmp_path / "vocab.json").read_text())["kind"] == kind
    assert loaded.to_dict() == tok.to_dict()
    assert [loaded.encode(t) for t in TEXTS] == [tok.encode(t) for t in TEXTS]
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temporary file left


def test_encode_documents_ends_each_document_with_eos():
    tok = build_tokenizer("word", ["a b", "c"])
    stream = encode_documents(tok, ["a b", "c", ""])
    assert stream == [*tok.encode("a b"), 1, *tok.encode("c"), 1, 1]
    assert tok.decode(stream) == "a b\nc\n\n"


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (("chars", TEXTS), {}, "tokenizer kind must be one of char, word, bpe, got 'chars'"),
        (("word", TEXTS), {"punctuation": "drop"}, "punctuation must be one of split, strip"),
        (("word", TEXTS), {"vocab_size": 2}, "word vocab_size must be an int of at least 3"),
        (("bpe", TEXTS), {"vocab_size": 100}, "bpe vocab_size must be an int of at least 258"),
        (("bpe", TEXTS), {}, "a bpe tokenizer needs vocab_size"),
        (("word", TEXTS), {"min_count": 0}, "min_count must be a positive int, got 0"),
        (("word", []), {}, "no training text"),
        (("char", ["", ""]), {}, "no training text"),
        (("word", "one string"), {}, "texts must be an iterable of documents, not one string"),
        (("word", ["a b"]), {"min_count": 2}, "no token occurs at least min_count=2 times"),
    ],
)
def test_build_errors_say_what_is_expected(args, options, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        build_tokenizer(*args, **options)


def test_punctuation_outside_word_level_warns():
    with pytest.warns(UserWarning, match="only applies to word level"):
        build_tokenizer("char", TEXTS, punctuation="strip")


def test_decoding_an_id_outside_the_vocabulary_is_an_error():
    tok = build_tokenizer("word", TEXTS)
    with pytest.raises(ValueError, match=rf"token ids must be in \[0, {tok.vocab_size}\)"):
        tok.decode([2, tok.vocab_size])


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (None, FileNotFoundError, "does not exist"),
        ("{not json", ValueError, "is not a tokenizer file"),
        ('{"kind": "morse", "tokens": []}', ValueError, "unknown tokenizer kind 'morse'"),
        ('{"kind": "word", "lowercase": false}', ValueError, "word tokenizer description lacks"),
        ('{"kind": "char", "lowercase": false, "tokens": ["a"]}', ValueError, "must start with"),
        ('{"kind": "bpe", "tokenizer": {"model": 3}}', ValueError, "unreadable bpe tokenizer"),
    ],
)
def test_loading_a_missing_or_corrupt_file_is_a_clear_error(tmp_path, content, error, message):
    path = tmp_path / "vocab.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(error, match=message):
        load_tokenizer(path)


def test_from_dict_rejects_what_is_not_a_description():
    with pytest.raises(ValueError, match="unknown tokenizer kind None"):
        tokenizer_from_dict([1, 2])
