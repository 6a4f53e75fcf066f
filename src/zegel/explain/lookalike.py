"""Look-alike sender domains: the check a careful person does first with a suspected phish.

A From domain is compared with well-known domains (shipped in ``wellknown.txt``) and with
domains the caller has seen before. It imitates one when, for its registrable part (the
label left of the public suffix):

- ``homoglyph``: it reads the same once look-alike characters are mapped to the letters they
  imitate (Unicode confusables such as Cyrillic ``а`` for ``a`` — IDN ``xn--`` names are decoded
  first — and ASCII tricks such as ``rn`` for ``m``, ``0`` for ``o``, ``1`` for ``l``);
- ``swap``: one character is replaced, added, dropped or two neighbours are swapped;
- ``added_words``: the real name plus words (``ing-veilig.nl``, ``rabobanksecure.com``);
- ``other_tld``: the same name under another public suffix (``paypal.co`` for ``paypal.com``);
- ``embedded``: the real domain is only a prefix of a longer name (``paypal.com.login.example``).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Literal

import idna
from publicsuffixlist import PublicSuffixList

LookalikeKind = Literal["homoglyph", "swap", "added_words", "other_tld", "embedded"]

# Same-script tricks Unicode's confusables data does not cover (it maps across scripts).
_ASCII_LOOKALIKES: Final[tuple[tuple[str, str], ...]] = (
    ("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("i", "l"), ("|", "l"),
)
# Used only when confusable_homoglyphs (Unicode's full confusables data) is not installed: the
# Cyrillic and Greek letters homograph attacks use most.
_FALLBACK_CONFUSABLES: Final[dict[str, str]] = {
    "а": "a", "с": "c", "ԁ": "d", "е": "e", "һ": "h", "і": "i", "ј": "j", "ӏ": "l", "о": "o", "р": "p",
    "ԛ": "q", "ѕ": "s", "ս": "u", "ѵ": "v", "ԝ": "w", "х": "x", "у": "y", "ο": "o", "α": "a", "ν": "v",
    "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ı": "i", "ɡ": "g",
}
# Below these lengths edit-distance and substring matches are mostly coincidence
# (ns.nl / nu.nl, ing / thing).
_MIN_SWAP_LENGTH: Final = 4
_MIN_SUBSTRING_LENGTH: Final = 5
_MIN_TOKEN_LENGTH: Final = 3
_MAX_DOMAIN_LENGTH: Final = 253


@dataclass(frozen=True)
class Lookalike:
    """``domain`` imitates ``imitates``; ``kind`` says how and ``detail`` shows the difference."""

    domain: str
    imitates: str
    kind: LookalikeKind
    detail: str
    registrable: str = ""

    def reason(self, lang: str = "en") -> str:
        from zegel.explain.texts import text

        return text(lang, f"lookalike.{self.kind}", domain=self.domain, imitates=self.imitates,
                    detail=self.detail, registrable=self.registrable)


@dataclass(frozen=True)
class _Known:
    domain: str
    label: str
    suffix: str
    skeleton: str


@functools.lru_cache(maxsize=1)
def default_detector() -> LookalikeDetector:
    """One shared detector over the shipped list (building one loads the Public Suffix List)."""
    return LookalikeDetector()


def wellknown_domains() -> tuple[str, ...]:
    """The shipped list of often-imitated domains."""
    data = resources.files("zegel.explain").joinpath("wellknown.txt").read_text(encoding="utf-8")
    return tuple(line.strip().lower() for line in data.splitlines() if line.strip() and not line.startswith("#"))


def _confusables() -> dict[str, Any] | None:
    # Unicode confusables (UTS #39 data) from confusable_homoglyphs when installed; without it
    # only accents (NFKD) and the ASCII tricks are recognised.
    try:
        module = importlib.import_module("confusable_homoglyphs.confusables")
    except ImportError:
        return None
    data: dict[str, Any] = module.confusables_data
    return data


def to_unicode(domain: str) -> str:
    """Lower-case U-label form; A-labels (``xn--``) are decoded (IDNA 2008), bad ones kept."""
    name = domain.strip().rstrip(".").lower()
    labels = []
    for label in name.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(idna.IDNAError, UnicodeError):
                label = idna.decode(label)
        labels.append(label)
    return ".".join(labels)


class LookalikeDetector:
    """Checks From domains against well-known and previously seen ones.

    Build once and reuse: it indexes the known domains and holds the Public Suffix List.
    """

    def __init__(self, known: Iterable[str] = (), *, include_wellknown: bool = True) -> None:
        self._psl = PublicSuffixList()
        self._confusables = _confusables()
        self._known: dict[str, _Known] = {}
        for domain in (*(wellknown_domains() if include_wellknown else ()), *known):
            self.add(domain)

    def add(self, domain: str) -> None:
        """Remember ``domain`` (e.g. a correspondent seen before)."""
        name = to_unicode(domain)
        if not name or len(name) > _MAX_DOMAIN_LENGTH or name in self._known:
            return
        label, suffix = self._split(name)
        if label:
            self._known[name] = _Known(name, label, suffix, self.skeleton(label))

    def _split(self, name: str) -> tuple[str, str]:
        """(registrable label, public suffix) of ``name``."""
        suffix = self._psl.publicsuffix(name) or name.rsplit(".", 1)[-1]
        private = self._psl.privatesuffix(name)
        if not private:
            return "", suffix
        return private[: -len(suffix) - 1] if private.endswith("." + suffix) else private, suffix

    def skeleton(self, label: str) -> str:
        """``label`` with look-alike characters replaced by the ASCII letters they imitate."""
        out = []
        for char in label:
            if char.isascii():
                out.append(char)
                continue
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            if base.isascii() and base:
                out.append(base.lower())
                continue
            out.append(self._confusable_ascii(char) or char)
        text = "".join(out).lower()
        for fake, real in _ASCII_LOOKALIKES:
            text = text.replace(fake, real)
        return text

    def _confusable_ascii(self, char: str) -> str | None:
        if self._confusables is None:
            return _FALLBACK_CONFUSABLES.get(char)
        for glyph in self._confusables.get(char, ()):
            candidate = str(glyph.get("c", "")).strip("\u200e")
            if len(candidate) == 1 and candidate.isascii() and candidate.isalnum():
                return candidate.lower()
        return None

    def check(self, domain: str) -> Lookalike | None:
        """The domain ``domain`` imitates, or None."""
        name = to_unicode(domain)
        if not name or len(name) > _MAX_DOMAIN_LENGTH or "." not in name:
            return None
        private = self._psl.privatesuffix(name) or name
        if self._is_known(name) or self._is_known(private):
            return None
        label, suffix = self._split(name)
        if not label:
            return None
        for known in self._known.values():  # the real domain as a prefix of a longer name
            if name.startswith(known.domain + ".") or name.startswith(known.domain + "-"):
                return Lookalike(name, known.domain, "embedded", name, private)
        skeleton = self.skeleton(label)
        for known in self._known.values():
            if skeleton == known.skeleton and label != known.label:
                # Two neighbours swapped can also map to one skeleton (i and l look alike).
                kind: LookalikeKind = "swap" if sorted(label) == sorted(known.label) else "homoglyph"
                return Lookalike(name, known.domain, kind, _difference(label, known.label), private)
        for known in self._known.values():
            if label == known.label and suffix != known.suffix and len(label) >= _MIN_TOKEN_LENGTH:
                return Lookalike(name, known.domain, "other_tld", f".{suffix} → .{known.suffix}", private)
        for known in self._known.values():
            if (len(known.label) >= _MIN_SWAP_LENGTH and abs(len(skeleton) - len(known.skeleton)) <= 1
                    and _osa_distance(skeleton, known.skeleton) == 1):
                return Lookalike(name, known.domain, "swap", _difference(label, known.label), private)
        tokens = [t for t in re.split(r"[-_.]", name[: -len(suffix) - 1]) if t]
        token_skeletons = {self.skeleton(t) for t in tokens}
        for known in self._known.values():
            if len(known.label) < _MIN_TOKEN_LENGTH:
                continue
            in_tokens = known.label in tokens or known.skeleton in token_skeletons
            in_label = len(known.label) >= _MIN_SUBSTRING_LENGTH and known.skeleton in skeleton
            if (in_tokens or in_label) and label != known.label:
                extra = label.replace(known.label, " ").strip(" -") or label
                return Lookalike(name, known.domain, "added_words", f"{known.label} + {extra!r}", private)
        return None

    def _is_known(self, name: str) -> bool:
        """``name`` or a parent domain of it is known (one set lookup per label)."""
        while name:
            if name in self._known:
                return True
            name = name.partition(".")[2]
        return False


def _difference(fake: str, real: str) -> str:
    """What differs, language-neutral: ``'а' (CYRILLIC SMALL LETTER A) → 'a'``, ``+'l'``, ``−'l'``."""
    if len(fake) == len(real) and sorted(fake) == sorted(real):
        at = next(i for i, (x, y) in enumerate(zip(fake, real, strict=True)) if x != y)
        return f"'{fake[at:at + 2]}' → '{real[at:at + 2]}'"
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, fake, real, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        got, want = fake[i1:i2], real[j1:j2]
        names = ", ".join(unicodedata.name(c, f"U+{ord(c):04X}") for c in got if not c.isascii())
        shown = f"'{got}'" + (f" ({names})" if names else "")
        if op == "replace":
            parts.append(f"{shown} → '{want}'")
        elif op == "insert":
            parts.append(f"−'{want}'")
        else:
            parts.append(f"+{shown}")
    return "; ".join(parts) or fake


def _osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Damerau–Levenshtein with adjacent swaps), capped at 2.

    Only 0, 1 or "more" matter here, so it is decided in one linear pass.
    """
    if a == b:
        return 0
    if abs(len(a) - len(b)) > 1:
        return 2
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    if len(a) == len(b):
        if a[start + 1:] == b[start + 1:]:
            return 1  # one character replaced
        swapped = start + 1 < len(a) and a[start] == b[start + 1] and a[start + 1] == b[start]
        return 1 if swapped and a[start + 2:] == b[start + 2:] else 2
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return 1 if longer[start + 1:] == shorter[start:] else 2  # one character added or dropped
