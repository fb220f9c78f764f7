"""The autocomplete engine: right suggestions, the model's own probabilities, one step a word."""

import math
import re
from dataclasses import replace

import pytest
import torch

from rnnkit.data.tokenizers import CharTokenizer, WordTokenizer
from rnnkit.models import LanguageModel
from rnnkit.tasks.lm.engine import MAX_K, Completer, Request
from rnnkit.tasks.lm.inference import Entry, StateCache, StepModel, perplexity
from rnnkit.tasks.runner import load_run

QUERY = "what is the best food to eat in las"


@pytest.fixture(scope="module")
def lm(vegas_run):
    return load_run(vegas_run)


class Counting(StepModel):
    """A StepModel that counts the tokens it reads."""

    fed = 0

    def __call__(self, tokens, states):
        self.fed += sum(len(row) for row in tokens)
        return super().__call__(tokens, states)


def counting(lm, **options) -> Completer:
    completer = Completer(lm, **options)
    completer.step = Counting(lm.model)
    return completer


def test_suggests_vegas_after_las(lm):
    result = Completer(lm).complete("What is the best food to eat in Las", k=3)
    top = result["words"][0]
    assert top["word"] == "vegas" and top["probability"] > 0.5, result
    assert top["text"] == "What is the best food to eat in Las vegas"  # as the user typed it
    assert result["phrases"][0]["text"].startswith("What is the best food to eat in Las vegas")
    assert result["unknown"] == []


def test_a_partial_word_is_completed_with_probabilities_given_what_was_typed(lm):
    result = Completer(lm).complete("what is the best food to eat in la", k=MAX_K, phrases=0)
    words = result["words"]
    assert words[0]["text"] == "what is the best food to eat in las", words
    # Every way to go on from "la" is listed: their probabilities add up to one.
    assert math.isclose(sum(w["probability"] for w in words), 1.0, rel_tol=1e-4)
    # Each is the model's: p(word | context) / p(a word starting with "la" | context), and for
    # the whole word "las" followed by w, p(las | context) * p(w | context, las) / the same.
    context = [lm.tokenizer.eos_id, *lm.tokenizer.encode("what is the best food to eat in")]
    p = next_word_probs(lm, context)
    starts = [i for i in range(lm.tokenizer.vocab_size) if lm.tokenizer.token(i).startswith("la")]
    given = float(p[starts].sum())
    las = lm.tokenizer.id("las")
    after = next_word_probs(lm, [*context, las])
    for w in words:
        added = w["text"].removeprefix("what is the best food to eat in ").split()
        want = (p[lm.tokenizer.id(added[0])] if len(added) == 1
                else p[las] * after[lm.tokenizer.id(added[1])])  # fmt: skip
        assert w["probability"] == pytest.approx(float(want) / given, rel=1e-4, abs=1e-9), w


def assert_same_answers(got: list[dict], want: list[dict]) -> None:
    """Same suggestions in the same order, probabilities equal up to float rounding."""
    for a, b in zip(got, want, strict=True):
        for part in ("words", "phrases"):
            assert [x["text"] for x in a[part]] == [x["text"] for x in b[part]]
            for x, y in zip(a[part], b[part], strict=True):
                assert x["probability"] == pytest.approx(y["probability"], rel=1e-5)


def next_word_probs(lm, ids):
    """The model's own next-token distribution after ``ids``, by a plain forward pass."""
    with torch.no_grad():
        output, _ = lm.model(torch.tensor([ids]))
    return output.logits[0, -1].softmax(-1)


def test_phrase_probabilities_are_products_of_the_models_steps(lm):
    result = Completer(lm).complete("we flew to ", k=3, phrases=3)
    for phrase in result["phrases"]:
        ids = [lm.tokenizer.eos_id, *lm.tokenizer.encode("we flew to")]
        want = 1.0
        for word in phrase["completion"].split():
            want *= float(next_word_probs(lm, ids)[lm.tokenizer.id(word)])
            ids.append(lm.tokenizer.id(word))
        ends = len(phrase["completion"].split()) < 3  # a phrase that stops chose <eos>
        assert phrase["probability"] == pytest.approx(want, rel=1e-4), phrase
        assert not ends or next_word_probs(lm, ids).argmax() == lm.tokenizer.eos_id


def test_a_cache_of_one_entry_gives_the_same_answers_and_entries_are_compact(lm):
    queries = ["we flew to ", "the lights of las vegas", QUERY, "my uncle mo"]
    small, large = Completer(lm, cache_size=1), Completer(lm)
    requests = [Request(q, 3, 2) for q in queries]
    assert_same_answers(small.complete_batch(requests), large.complete_batch(requests))
    (entry,) = small.cache._entries.values()
    V = lm.tokenizer.vocab_size
    assert entry.log_probs.untyped_storage().nbytes() == V * 4
    assert all(part.untyped_storage().nbytes() == part.numel() * 4 for part in entry.state)


@pytest.mark.parametrize(
    ("punctuation", "text", "fragment"),
    [
        ("strip", "eat in las😀", ""),  # the symbol is dropped: the word before it is complete
        ("strip", "las vegas!", ""),
        ("strip", "eat in la", "la"),
        ("keep", "eat in <eos>", ""),
        ("keep", "eat in la", "la"),
    ],
)
def test_parsing_follows_the_tokenizers_punctuation_setting(lm, punctuation, text, fragment):
    tokenizer = WordTokenizer(lm.tokenizer.tokens, lowercase=True, punctuation=punctuation)
    completer = Completer(replace(lm, tokenizer=tokenizer))
    parsed = completer._parse(text)
    assert parsed.fragment == fragment
    assert parsed.head + parsed.typed == text
    assert lm.tokenizer.eos_id not in parsed.context[1:]  # typed "<eos>" is just unknown text
    for word in completer.complete(text, k=3)["words"]:
        assert word["text"].startswith(parsed.head + parsed.typed[: len(fragment)])


def test_the_letters_typed_keep_their_case(lm):
    words = Completer(lm).complete("What is the best food to eat in La", k=2)["words"]
    assert words[0]["text"] == "What is the best food to eat in Las"


def test_probabilities_are_the_language_models_own(lm):
    """The cached, batched, one-step-at-a-time path agrees with a plain forward pass."""
    completer = Completer(lm)
    for end in range(1, len(QUERY.split()) + 1):  # word by word: each one a cache extension
        completer.complete(" ".join(QUERY.split()[:end]) + " ", k=2, phrases=1)
    got = {w["word"]: w["probability"] for w in completer.complete(QUERY + " ", k=5)["words"]}
    ids = [lm.tokenizer.eos_id, *lm.tokenizer.encode(QUERY)]
    with torch.no_grad():
        output, _ = lm.model(torch.tensor([ids]))
    want = output.logits[0, -1].softmax(-1)
    for word, p in got.items():
        assert p == pytest.approx(float(want[lm.tokenizer.id(word)]), rel=1e-5, abs=1e-7)


def test_typing_a_query_reads_each_word_once(lm):
    completer = counting(lm)
    words = QUERY.split()
    for n in range(1, len(QUERY) + 1):  # one request per keystroke
        completer.complete(QUERY[:n], phrases=0)
    # <eos> once, then each word once: while it is typed (as a candidate whole word), and
    # never again when the space after it makes it part of the context.
    assert completer.step.fed == 1 + len(words)
    assert completer.cache.hits > len(QUERY) / 2


def test_a_batch_answers_like_single_requests(lm):
    queries = ["we flew to ", "the lights of las vegas", QUERY, "is it hot in", "my uncle mo"]
    batched = Completer(lm).complete_batch([Request(q, 3, 2) for q in queries])
    assert_same_answers(batched, [Completer(lm).complete(q, 3, 2) for q in queries])


def test_int8_keeps_the_suggestions(lm):
    full = Completer(lm).complete(QUERY + " ", k=3)
    small = Completer(lm, int8=True).complete(QUERY + " ", k=3)
    assert small["words"][0]["word"] == full["words"][0]["word"] == "vegas"
    assert small["words"][0]["probability"] == pytest.approx(
        full["words"][0]["probability"], abs=0.05
    )


def ops(step: StepModel) -> set[str]:
    """The operators the traced recurrence of ``step`` runs."""
    return set(re.findall(r"\b\w+::\w+", str(step.recur.inlined_graph)))


def test_int8_really_quantizes_the_recurrence_and_the_output_layer(lm, monkeypatch):
    # Close answers alone would pass if int8 did nothing: look at the layers themselves.
    quantized = torch.ao.nn.quantized.dynamic.Linear
    full, small = StepModel(lm.model), StepModel(lm.model, int8=True)
    heads = [m for m in small.head.modules() if isinstance(m, quantized | torch.nn.Linear)]
    assert heads and all(isinstance(m, quantized) for m in heads)
    assert all(m.weight().dtype == torch.qint8 for m in heads)
    # The traced step runs int8 matrix products in place of every float one.
    assert "aten::linear" in ops(full) and "quantized::linear_dynamic" not in ops(full)
    assert "quantized::linear_dynamic" in ops(small) and "aten::linear" not in ops(small)

    def unavailable(*args, **kwargs):
        raise RuntimeError("no TorchScript here")

    monkeypatch.setattr(torch.jit, "trace", unavailable)
    eager = StepModel(lm.model, int8=True).recur  # the module itself, untraced
    cells = [m for m in eager.modules() if isinstance(m, quantized | torch.nn.Linear)]
    assert cells and all(isinstance(m, quantized) for m in cells)
    assert all(m.weight().dtype == torch.qint8 for m in cells)


def test_unknown_words_are_reported_and_unmatched_fragments_suggest_nothing(lm):
    result = Completer(lm).complete("zebras eat in qqq")
    assert result["unknown"] == ["zebras"]
    assert result["words"] == [] and result["phrases"] == []


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request("   "), "empty"),
        (Request("a" * 501), "limit is 500"),
        (Request("las", k=0), "k must be an int in [1, 50]"),
        (Request("las", k=51), "k must be an int in [1, 50]"),
        (Request("las", phrases=-1), "phrases must be an int in [0, 50]"),
        (Request("las", k=2.5), "k must be an int"),
        (Request("las", k=True), "k must be an int"),
    ],
)
def test_bad_requests_say_what_to_change(lm, request_, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Completer(lm).complete_batch([request_])


def test_character_models_are_refused(lm):
    chars = replace(lm, tokenizer=CharTokenizer(["<unk>", "<eos>", "a"]))
    with pytest.raises(ValueError, match="data.level=word"):
        Completer(chars)


def test_state_cache_is_least_recently_used():
    cache = StateCache(2)
    entry = Entry(torch.zeros(1, 1, 1), torch.zeros(3))
    cache.put((1,), entry)
    cache.put((1, 2), entry)
    assert cache.get((1,)) is entry  # (1,) is now the most recent
    cache.put((1, 2, 3), entry)  # evicts (1, 2)
    assert cache.get((1, 2)) is None
    assert cache.longest_prefix((1, 2, 3, 4)) == (3, entry)
    assert cache.longest_prefix((9, 9)) == (0, None)
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 1
    with pytest.raises(ValueError, match="positive int"):
        StateCache(0)


@pytest.mark.parametrize(
    "options",
    [
        {"kind": "lstm", "num_layers": 2},
        {"kind": "gru", "num_layers": 2},
        {"kind": "rnn_tanh", "num_layers": 1},
        {"kind": "rnn_relu", "num_layers": 2},
        {"kind": "lstm", "tie_weights": True, "hidden_size": 12},
        {"kind": "gru", "adaptive_cutoffs": (10, 20), "hidden_size": 16},
    ],
    ids=["lstm", "gru", "rnn_tanh", "rnn_relu", "tied", "adaptive"],
)
def test_step_model_matches_the_language_model(options):
    """Rows of different lengths, each continuing from its own state, over two calls."""
    torch.manual_seed(0)
    model = LanguageModel(30, embedding_dim=8, hidden_size=options.pop("hidden_size", 8),
                          **options).eval()  # fmt: skip
    step = StepModel(model)
    rows = [[3, 4, 5], [6], [7, 8]]
    log_probs, states = step(rows, [None] * 3)
    more, _ = step([[9], [10, 11], [12]], states)
    for i, row in enumerate(rows):
        full = row + [[9], [10, 11], [12]][i]
        with torch.no_grad():
            first, _ = model(torch.tensor([row]))
            second, _ = model(torch.tensor([full]))
        torch.testing.assert_close(log_probs[i], first.logits[0, -1].log_softmax(-1), atol=1e-5,
                                   rtol=1e-5)  # fmt: skip
        torch.testing.assert_close(more[i], second.logits[0, -1].log_softmax(-1), atol=1e-5,
                                   rtol=1e-5)  # fmt: skip


def test_perplexity_is_the_models_and_int8_costs_little(lm):
    stream = torch.tensor(lm.tokenizer.encode(QUERY + " we flew to las vegas last week") * 3)
    rows = 2
    data = stream[: stream.numel() // rows * rows].view(rows, -1)
    with torch.no_grad():
        _, loss = lm.model(data[:, :-1], data[:, 1:])
    assert perplexity(StepModel(lm.model), stream, rows) == pytest.approx(
        math.exp(float(loss)), rel=1e-5
    )
    assert perplexity(StepModel(lm.model, int8=True), stream, rows) == pytest.approx(
        math.exp(float(loss)), rel=0.05
    )
    with pytest.raises(ValueError, match="too few"):
        perplexity(StepModel(lm.model), stream[:3], rows=2)


def test_without_torchscript_the_same_module_runs_eagerly(lm, monkeypatch):
    traced = StepModel(lm.model)
    assert isinstance(traced.recur, torch.jit.ScriptModule)

    def unavailable(*args, **kwargs):
        raise RuntimeError("no TorchScript here")

    monkeypatch.setattr(torch.jit, "trace", unavailable)
    eager = StepModel(lm.model)
    assert not isinstance(eager.recur, torch.jit.ScriptModule)
    rows = [[1, 4, 5], [1, 6]]
    (a, states_a), (b, states_b) = traced(rows, [None] * 2), eager(rows, [None] * 2)
    torch.testing.assert_close(a, b)
    for sa, sb in zip(states_a, states_b, strict=True):
        torch.testing.assert_close(sa, sb)
