"""What the user typed, turned into what to check: a URL or an e-mail address reduced to its
domain (with a note saying so), and ``--selector`` values scoped to one domain or to all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_INPUT = 2048  # longer input is not a domain, a URL or an address; bound the work on it


@dataclass(frozen=True, slots=True)
class Reduced:
    """``domain``: what to check; ``kind``: "url", "address" or "" when the input was a domain."""

    domain: str
    kind: str = ""


def reduce_input(text: str) -> Reduced:
    """``https://www.bakkerij.example/contact`` -> the host; ``info@bakkerij.example`` -> the part
    after the last '@' (RFC 5322 3.4.1: the domain is right of the last '@'). Anything else is
    returned unchanged, to be judged as a domain name."""
    value = text.strip()[:MAX_INPUT]
    lowered = value.lower()
    if lowered.startswith("mailto:"):
        value = value[len("mailto:"):].split("?", 1)[0]
        lowered = value.lower()
    scheme, sep, rest = value.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        # RFC 3986 3.2: authority ends at the first / ? or #; drop userinfo and port.
        authority = rest
        for stop in "/?#":
            authority = authority.split(stop, 1)[0]
        host = authority.rsplit("@", 1)[-1]
        if host.startswith("["):
            return Reduced(host, "url")
        host = host.split(":", 1)[0]
        return Reduced(host, "url")
    if "@" in value and " " not in value.strip():
        local, _, domain = value.rpartition("@")
        if local and domain:
            return Reduced(domain.strip().strip(">").strip(), "address")
    return Reduced(value)


def split_selectors(values: Iterable[str]) -> tuple[tuple[str, ...], Mapping[str, tuple[str, ...]]]:
    """``--selector S`` applies to every domain; ``--selector DOMAIN:S`` to that domain only.

    Returns (selectors for all domains, domain -> its own selectors). A selector name never
    holds ':' (RFC 6376 3.1: selectors are sub-domain labels), so the split is unambiguous.
    """
    everywhere: list[str] = []
    scoped: dict[str, list[str]] = {}
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        domain, sep, selector = value.rpartition(":")
        if sep:
            domain = domain.strip().rstrip(".").lower()
            selector = selector.strip()
            if not domain or not selector:
                raise ValueError(f"--selector {raw!r}: use SELECTOR or DOMAIN:SELECTOR")
            scoped.setdefault(domain, []).append(selector)
        else:
            everywhere.append(value)
    return tuple(everywhere), {domain: tuple(names) for domain, names in scoped.items()}


__all__ = ["Reduced", "reduce_input", "split_selectors"]
