"""One inference path: ``rnnkit complete RUN TEXT --json`` and ``GET /complete`` agree."""

import json
import re

import pytest
from fastapi.testclient import TestClient

from rnnkit.cli import main
from rnnkit.serve.app import create_app
from rnnkit.tasks import runner
from rnnkit.tasks.lm.use import complete, format_completion
from rnnkit.tasks.runner import load_run

PROMPTS = [
    "las veg",  # inside a word
    "las",  # a fragment that is a word of its own
    "what is the best food to eat in las",
    "what is the best food to eat in la",
    "What is the best food to eat in La",  # the letters typed keep their case
    "we flew to ",  # after a space
    "we flew to las vegas ",
    "the lights of ",
    "my uncle mo",
    "is it hot in las vegas in ",
    "the best food in town is p",
    "zebras eat in ",  # an unknown word
    "zebras and unicorns flew to la",
    "qqq",  # a fragment no word starts with
    "las vegas!",  # punctuation
    "las vegas, ",
    "hot in las vegas? we",
    "pizza. the",
    "  the   best  ",
    "the best food in town is pizza",
]


@pytest.fixture(scope="module")
def client(vegas_run):
    with TestClient(create_app(vegas_run)) as client:
        yield client


def cli_json(capsys, run, text, *options):
    assert main(["complete", str(run), text, "--json", *options]) == 0
    out, err = capsys.readouterr()
    assert not err
    return json.loads(out)


def assert_same(got: dict, want: dict) -> None:
    """The same answer: every field equal, probabilities to 1e-6."""
    assert set(want) - {"ms"} == set(got)
    assert got["query"] == want["query"] and got["unknown"] == want["unknown"]
    for part, key in (("words", "word"), ("phrases", "completion")):
        assert [(x[key], x["text"]) for x in got[part]] == [
            (x[key], x["text"]) for x in want[part]
        ], part
        for a, b in zip(got[part], want[part], strict=True):
            assert a["probability"] == pytest.approx(b["probability"], abs=1e-6)


def test_twenty_prompts_get_the_same_answer_from_the_cli_and_the_server(vegas_run, client, capsys):
    assert len(PROMPTS) == 20
    for text in PROMPTS:
        response = client.get("/complete", params={"q": text})
        assert response.status_code == 200, response.text
        served = response.json()
        assert_same(cli_json(capsys, vegas_run, text), served)
    # Sanity: the inside-a-word and unknown-word prompts did what they say.
    assert cli_json(capsys, vegas_run, "las veg")["words"][0]["word"] == "vegas"
    assert cli_json(capsys, vegas_run, "zebras eat in ")["unknown"] == ["zebras"]


@pytest.mark.parametrize("text", ["we flew to ", "las", "is it hot in las vegas in "])
def test_beam_phrases_are_the_same_option_in_both(vegas_run, client, capsys, text):
    options = {"k": 4, "phrases": 2, "search": "beam", "beam": 3}
    served = client.get("/complete", params={"q": text, **options}).json()
    argv = ["-k", "4", "--phrases", "2", "--search", "beam", "--beam", "3"]
    assert_same(cli_json(capsys, vegas_run, text, *argv), served)
    greedy = client.get("/complete", params={"q": text, "k": 4, "phrases": 2}).json()
    assert served["words"] == greedy["words"]  # the search changes the phrases only


def test_beam_phrases_are_the_best_of_their_beams(vegas_run):
    """A wider beam never finds a less likely phrase than greedy search for a suggestion;
    beam phrases always have the words asked for (they never stop at the end)."""
    lm = load_run(vegas_run)
    for text in ("we flew to ", "my uncle mo", "the best food in town is p"):
        greedy = complete(lm, text, k=3, phrases=3)
        beam = complete(lm, text, k=3, phrases=3, search="beam", beam=8)
        assert all(len(p["completion"].split()) == 3 for p in beam["phrases"])
        full = [p for p in greedy["phrases"] if len(p["completion"].split()) == 3]
        for p in full:
            first = p["completion"].split()[0]
            best = [b for b in beam["phrases"] if b["completion"].split()[0] == first]
            assert best and best[0]["probability"] >= p["probability"] - 1e-9


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"search": "sideways"}, "search must be 'greedy' or 'beam'"),
        ({"beam": 0, "search": "beam"}, "beam must be an int in [1, 50]"),
    ],
)
def test_the_server_refuses_a_bad_search(client, options, message):
    response = client.get("/complete", params={"q": "las", **options})
    assert response.status_code == 422 and message in response.json()["detail"]


def test_character_runs_complete_with_next_characters(tmp_path, vegas_run, capsys):
    source = load_run(vegas_run).config.data.source  # the vegas corpus
    overrides = [
        f"data.source={json.dumps(source)}",
        "data.level=char",
        "model.embedding_dim=16",
        "model.hidden_size=16",
        "model.dropout=0.0",
        "train.epochs=1",
        "train.batch_size=4",
        "data.bptt=12",
    ]
    run = tmp_path / "chars"
    runner.train("lm", run, overrides=overrides, quiet=True)
    result = cli_json(capsys, run, "we flew to la", "-k", "3", "--search", "beam")
    assert [w["text"] for w in result["words"]] == ["we flew to la" + w["word"] for w in
                                                    result["words"]]  # fmt: skip
    assert len(result["words"]) == 3 and len(result["phrases"]) == 3
    for phrase in result["phrases"]:
        assert phrase["text"] == "we flew to la" + phrase["completion"]
        assert len(phrase["completion"]) == 3  # three characters, never an early end
    assert "completion:" in format_completion(result)
    with TestClient(create_app(run)) as server:  # the server answers the same way
        served = server.get("/complete", params={"q": "we flew to la", "k": 3}).json()
    assert [w["word"] for w in served["words"]] == [w["word"] for w in result["words"]]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cache_size": 0}, "cache capacity must be a positive int, got 0"),
        ({"max_batch": 0}, "max_batch must be a positive int, got 0"),
        ({"store": "q.db"}, "--store given without --feedback"),
        ({"feedback_cap": 5}, "--feedback-cap given without --feedback"),
    ],
)
def test_server_options_are_used_as_given_or_refused(vegas_run, options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        create_app(vegas_run, **options)


def test_the_tasks_predict_answers_a_batch_as_complete_does(vegas_run):
    lm = load_run(vegas_run)
    batch = lm.task.predict(lm, PROMPTS)
    for text, answer in zip(PROMPTS, batch, strict=True):
        alone = complete(lm, text)
        assert [w["word"] for w in answer["words"]] == [w["word"] for w in alone["words"]]
        for ours, theirs in zip(answer["words"], alone["words"], strict=True):
            assert ours["probability"] == pytest.approx(theirs["probability"], abs=1e-6)
        assert [p["text"] for p in answer["phrases"]] == [p["text"] for p in alone["phrases"]]
