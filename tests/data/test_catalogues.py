"""gettext catalogues as translation pairs: .mo files written here in the GNU layout."""

import struct

import pytest

from rnnkit.data.catalogues import catalogue_pairs, ding_pairs, read_mo
from rnnkit.data.paired import Pair


def mo_bytes(messages, order="<", charset="UTF-8"):
    """A compiled catalogue of ``messages`` ({msgid: msgstr}), with its header entry."""
    header = f"Content-Type: text/plain; charset={charset}\n"
    items = [(b"", header.encode("ascii"))]
    items += [(k.encode(charset), v.encode(charset)) for k, v in messages.items()]
    n = len(items)
    originals, translations = 28, 28 + 8 * n
    data_at = 28 + 16 * n
    tables, blob = [b"", b""], b""
    for side in (0, 1):
        for item in items:
            text = item[side]
            tables[side] += struct.pack(f"{order}2I", len(text), data_at + len(blob))
            blob += text + b"\0"
    head = struct.pack(f"{order}7I", 0x950412DE, 0, n, originals, translations, 0, 0)
    return head + tables[0] + tables[1] + blob


def write(root, language, domain, messages, **kw):
    folder = root / language / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{domain}.mo").write_bytes(mo_bytes(messages, **kw))


@pytest.mark.parametrize("order", ["<", ">"])
def test_read_mo_in_either_byte_order_with_its_charset_and_contexts(tmp_path, order):
    messages = {"Open the file": "Ouvrir le fichier", "menu\x04Quit now": "Quitter maintenant"}
    path = tmp_path / "x.mo"
    path.write_bytes(mo_bytes(messages, order=order, charset="ISO-8859-1"))
    assert read_mo(path) == {"Open the file": "Ouvrir le fichier", "Quit now": "Quitter maintenant"}
    path.write_bytes(mo_bytes({"Crème brûlée": "Crème brûlée à la carte"}, charset="latin-1"))
    assert read_mo(path) == {"Crème brûlée": "Crème brûlée à la carte"}


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"hello, not a catalogue", "not a compiled gettext catalogue"),
     (mo_bytes({"a b": "c d"})[:40], "is cut short")],
    ids=["magic", "short"],
)  # fmt: skip
def test_what_is_not_a_catalogue_is_one_line(tmp_path, data, message):
    (tmp_path / "x.mo").write_bytes(data)
    with pytest.raises(ValueError, match=message) as e:
        read_mo(tmp_path / "x.mo")
    assert "\n" not in str(e.value)


PROSE = {"Cannot open the file": "Impossible d'ouvrir le fichier",
         "Show all branches": "Afficher toutes les branches"}  # fmt: skip
NOT_PROSE = {
    "cannot open %s": "impossible d'ouvrir %s",  # a directive
    "Hello {0} there": "Bonjour {0} là",
    "<b>Bold</b> text": "<b>Gras</b> texte",  # markup
    "_File menu": "Menu _Fichier",  # an accelerator
    "see /etc/passwd file": "voir le fichier /etc/passwd",  # a path
    "use --all here": "utiliser --all ici",  # an option
    "-X                ignored": "-X           ignoré",  # usage columns
    "Quit": "Quitter",  # one word
    " ".join(["word"] * 16): " ".join(["mot"] * 16),  # too long
    "Untranslated message here": "",
    "Copied message here": "Copied message here",
    "one file\0%d files": "un fichier\0%d fichiers",  # a plural
}


def test_only_prose_pairs_are_kept_english_first_deduplicated_by_domain_order(tmp_path):
    write(tmp_path, "fr", "git", PROSE | NOT_PROSE)
    first = {"show ALL  branches": "Montrer les branches",  # usage columns: not prose
             "Remove the directory": "Supprimer le dossier",
             "Cannot open THE file": "Ouverture du fichier impossible"}  # fmt: skip
    write(tmp_path, "fr", "coreutils", first)
    write(tmp_path, "fr", "unlisted", {"Some other program": "Un autre programme"})
    corpus = catalogue_pairs("fr", root=tmp_path, domains=("coreutils", "git", "absent"))
    assert corpus.pairs == [  # coreutils comes first in the list, so its translation stays
        Pair("Remove the directory", "Supprimer le dossier"),
        Pair("Cannot open THE file", "Ouverture du fichier impossible"),
        Pair("Show all branches", "Afficher toutes les branches"),
    ]
    assert corpus.domains == {"coreutils": 2, "git": 1}  # absent: not read, not recorded
    assert corpus.dropped == 2 + len(NOT_PROSE)


def test_a_language_without_catalogues_lists_those_there_are(tmp_path):
    write(tmp_path, "fr", "git", PROSE)
    write(tmp_path, "de", "git", PROSE)
    with pytest.raises(
        ValueError, match="no catalogues of git, .* languages with catalogues: de, fr"
    ):
        catalogue_pairs("it", root=tmp_path, domains=("git",))
    with pytest.raises(ValueError, match="give a language code such as fr"):
        catalogue_pairs("../etc", root=tmp_path)


DING = """# Version :: devel 2023-01-30
Haus {n} | Häuser {pl} | Das Haus ist alt. :: house | houses | The house is old.
Abend {m} | Guten Abend! | Wir essen am Abend. :: evening | Good evening! | We eat in the evening.
etw. tun {v} | Ich tue es. :: to do sth. | I do it; I am doing it.
Nur eine Seite. | Zwei Seiten. :: Only one side.
Er kommt. :: He comes.
Sie kam [ugs.] spät. :: She came late.
"""


def test_ding_keeps_the_senses_that_are_whole_sentences_on_both_sides(tmp_path):
    path = tmp_path / "de-en"
    path.write_text(DING + "Er kommt heute spät. :: He comes late today.\n" * 2, encoding="utf-8")
    assert ding_pairs(path) == [  # English first, once each
        Pair("The house is old.", "Das Haus ist alt."),
        Pair("We eat in the evening.", "Wir essen am Abend."),
        Pair("He comes late today.", "Er kommt heute spät."),
    ]  # not: words, two-word sentences, alternatives (;), notes ([ugs.]), unaligned senses


def test_ding_errors_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="apt-get install trans-de-en"):
        ding_pairs(tmp_path / "nowhere")
    (tmp_path / "bad").write_text("Haus {n} = house\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad line 1: expected 'German :: English'"):
        ding_pairs(tmp_path / "bad")
    (tmp_path / "words").write_text("Haus {n} :: house\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no sentence pairs"):
        ding_pairs(tmp_path / "words")
