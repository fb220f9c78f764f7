"""Human translations from gettext message catalogues: the ``gettext:LANG`` pairs.

Every installed program that speaks other languages ships its messages translated by people,
as compiled catalogues ``/usr/share/locale/<lang>/LC_MESSAGES/<domain>.mo``: the English
message (``msgid``) and its translation (``msgstr``). `read_mo` reads one catalogue (the GNU
``.mo`` layout, either byte order; the charset its header names). `catalogue_pairs` turns
the catalogues of a fixed list of text domains (`DOMAINS`: base-system and PostgreSQL tools,
so that every machine of this kind builds the same corpus, whatever else is installed) into
sentence pairs, English first:

- kept: messages of `MIN_WORDS` to `MAX_WORDS` words on both sides, one line each;
- dropped: untranslated or copied messages, plurals, format directives (``%s``, ``{0}``,
  ``$HOME``), markup and entities, menu accelerators (``_File``, ``&Open``) and code (paths,
  options, file names, identifiers, aligned usage columns): `_NOT_PROSE`;
- de-duplicated by the English message (case and spacing aside): the first domain in
  `DOMAINS` order that has it gives its translation.

`Catalogues` records which domains were read and how many pairs each gave.
"""

from __future__ import annotations

import codecs
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.data.paired import Pair

__all__ = [
    "DING_PATH",
    "DOMAINS",
    "LOCALE_ROOT",
    "Catalogues",
    "catalogue_pairs",
    "ding_pairs",
    "read_mo",
]

LOCALE_ROOT = Path("/usr/share/locale")
# Text domains of the tools on every machine of this kind (coreutils, git, GnuPG, binutils,
# the PostgreSQL 15 client and server, ...); desktop libraries that a browser install pulls
# in (GTK, GLib, ...) and the ISO code lists (names, not sentences) are left out on purpose.
DOMAINS = (
    "coreutils", "git", "gnupg2", "binutils", "bfd", "gas", "ld", "gold", "gprof", "findutils",
    "diffutils", "grep", "sed", "tar", "gzip", "bash", "libc", "gettext-tools",
    "gettext-runtime", "apt", "libapt-pkg6.0", "dpkg", "dpkg-dev", "adduser", "Linux-PAM",
    "shadow", "util-linux", "procps-ng", "e2fsprogs", "wget", "make", "libidn2", "gnutls30",
    "initdb-15", "pg_dump-15", "psql-15", "postgres-15", "libpq5-15", "pg_basebackup-15",
    "pgscripts-15", "pg_ctl-15", "pg_controldata-15", "pg_resetwal-15", "pg_rewind-15",
    "pg_upgrade-15", "pg_verifybackup-15", "pg_waldump-15", "pg_checksums-15",
    "pg_archivecleanup-15", "pg_test_fsync-15", "pg_test_timing-15", "plpgsql-15",
    "ecpg-15", "ecpglib6-15", "pg_amcheck-15", "pg_config-15", "opcodes", "man-db", "psmisc",
    "xz", "net-tools", "systemd",
)  # fmt: skip
MIN_WORDS, MAX_WORDS = 2, 15
MO_MAGIC = 0x950412DE
# Directives, markup, accelerators and code: the characters and shapes prose never has here
# (a path, an option such as "-X" or "--all", "file.c", aligned columns of usage text).
_NOT_PROSE = re.compile(r"[%{}$<>&_`\\|=@#\[\]~\t\n*^]|/\w|\w/|\.\w|(^|\s)-+\w|\S\s{2,}\S")
_CHARSET = re.compile(r"charset=([\w.:-]+)", re.IGNORECASE)


def read_mo(path: str | Path) -> dict[str, str]:
    """The messages of a compiled gettext catalogue: English ``msgid`` -> translation.

    A message with a context (``msgctxt``) is keyed by its ``msgid`` alone; a plural
    message keeps its NUL-separated forms on both sides (`catalogue_pairs` drops them); the
    header (empty ``msgid``) is read for the charset and left out. One-line ValueError for a
    file that is not a ``.mo`` catalogue or is cut short.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read {path} ({e.strerror})") from e
    order = next((o for o in "<>" if len(data) >= 4 and struct.unpack(f"{o}I", data[:4])[0]
                  == MO_MAGIC), None)  # fmt: skip
    if order is None or len(data) < 20:
        raise ValueError(f"{path} is not a compiled gettext catalogue (.mo): wrong magic number")
    count, originals, translations = struct.unpack(f"{order}3I", data[8:20])

    def strings(table: int) -> list[bytes]:
        out = []
        for i in range(count):
            at = table + 8 * i
            if at + 8 > len(data):
                raise ValueError(f"{path} is cut short: its table of {count} messages ends early")
            length, offset = struct.unpack(f"{order}2I", data[at : at + 8])
            if offset + length > len(data):
                raise ValueError(f"{path} is cut short: message {i} lies past its end")
            out.append(data[offset : offset + length])
        return out

    keys, values = strings(originals), strings(translations)
    header = values[keys.index(b"")].decode("ascii", "replace") if b"" in keys else ""
    charset = match.group(1) if (match := _CHARSET.search(header)) else "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        raise ValueError(f"{path} names an unknown charset {charset!r}") from None
    return {
        key.rpartition(b"\x04")[2].decode(charset, "replace"): value.decode(charset, "replace")
        for key, value in zip(keys, values, strict=True)
        if key
    }


@dataclass
class Catalogues:
    """The pairs of one language's catalogues (English first) and where they came from:
    ``domains`` maps each domain read to the pairs it gave (after de-duplication)."""

    language: str
    pairs: list[Pair] = field(default_factory=list)
    domains: dict[str, int] = field(default_factory=dict)
    dropped: int = 0  # messages left out as not prose, too short or long, or duplicates


def _prose(text: str) -> bool:
    return MIN_WORDS <= len(text.split()) <= MAX_WORDS and not _NOT_PROSE.search(text)


def catalogue_pairs(
    language: str, root: str | Path = LOCALE_ROOT, domains: tuple[str, ...] = DOMAINS
) -> Catalogues:
    """The sentence pairs (English, ``language``) of ``domains``' catalogues under ``root``
    (see the module docstring). A domain without a catalogue in that language is skipped;
    none at all is a one-line error that lists the languages there are."""
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?(@\w+)?", language):
        raise ValueError(f"gettext:{language}: give a language code such as fr, de or pt_BR")
    root = Path(root)
    folder = root / language / "LC_MESSAGES"
    corpus, seen = Catalogues(language), set()
    for domain in domains:
        path = folder / f"{domain}.mo"
        if not path.is_file():
            continue
        kept = 0
        for english, translated in read_mo(path).items():
            english, translated = english.strip(), translated.strip()
            key = " ".join(english.split()).casefold()
            plural = "\0" in english or "\0" in translated
            if plural or not translated or translated == english or key in seen:
                corpus.dropped += 1
            elif _prose(english) and _prose(translated):
                seen.add(key)
                corpus.pairs.append(Pair(english, translated))
                kept += 1
            else:
                corpus.dropped += 1
        corpus.domains[domain] = kept
    if not corpus.domains:
        there = sorted(p.name for p in root.iterdir() if (p / "LC_MESSAGES").is_dir()) \
            if root.is_dir() else []  # fmt: skip
        raise ValueError(f"no catalogues of {', '.join(domains[:3])}, ... in {folder}; "
                         f"languages with catalogues: {', '.join(there) or 'none'}")  # fmt: skip
    return corpus


# ---- the Ding German-English dictionary -----------------------------------------------------

DING_PATH = Path("/usr/share/trans/de-en")  # Debian's trans-de-en
# A whole sentence: a capital first, an end mark last, and none of the dictionary's notes
# ({f} grammar, [Br.] usage, /Abk./ abbreviations, <...> spellings) or alternatives (; or /).
_SENTENCE = re.compile(r"[A-ZÄÖÜ„\"'].*[.!?]")
_NOTE = re.compile(r"[{}\[\]<>/;…]|\bsth\b|\bsb\b|\bjdm\b|\bjdn\b|\betw\b")


def _sentence(text: str) -> bool:
    return (bool(_SENTENCE.fullmatch(text)) and not _NOTE.search(text)
            and 3 <= len(text.split()) <= MAX_WORDS * 2)  # fmt: skip


def ding_pairs(path: str | Path = DING_PATH) -> list[Pair]:
    """The example sentences of the Ding dictionary (lines ``German :: English``, senses
    separated by ``|`` on both sides, ``#`` comments), English first: the senses that are
    whole sentences on both sides (`_SENTENCE`, no notes or alternatives), once each."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no Ding dictionary at {path}: install Debian's trans-de-en "
                         "(apt-get install trans-de-en, or `make data` as root)")  # fmt: skip
    pairs: dict[Pair, None] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            sides = line.rstrip("\n").split(" :: ")
            if len(sides) != 2:
                raise ValueError(f"{path} line {number}: expected 'German :: English'")
            german, english = (side.split(" | ") for side in sides)
            if len(german) != len(english):
                continue  # senses that do not line up
            for de, en in zip(german, english, strict=True):
                de, en = de.strip(), en.strip()
                if _sentence(de) and _sentence(en):
                    pairs[Pair(en, de)] = None
    if not pairs:
        raise ValueError(f"{path} holds no sentence pairs; is it the Ding de-en dictionary?")
    return list(pairs)
