"""Geometry for the SVG pictures the templates draw: the SPF lookup tree and the bar against
RFC 7208's limit of 10 DNS lookups (section 4.6.4). Numbers only; markup is in the templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROW = 24  # pixels per tree row
INDENT = 22  # pixels per tree level
CHAR = 7.3  # average advance of the 12-px monospace font
MAX_ROWS = 200  # a tree is cut here (the audit's own walk is bounded too)


@dataclass(frozen=True, slots=True)
class TreeRow:
    x: float
    y: float
    term: str
    lookups: int
    void: int
    note: str
    depth: int
    bad: bool  # the branch stops on an error (no record, loop, over the limit)


@dataclass(frozen=True, slots=True)
class Segment:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, slots=True)
class TreePicture:
    width: float
    height: float
    rows: tuple[TreeRow, ...]
    segments: tuple[Segment, ...]
    truncated: bool


def tree_picture(tree: dict[str, Any]) -> TreePicture:
    """Lay out a tree (``service.tree_dict``) one node per row, children indented under their
    parent, with elbow connectors."""
    rows: list[TreeRow] = []
    segments: list[Segment] = []
    truncated = False

    def visit(node: dict[str, Any], depth: int) -> float | None:
        nonlocal truncated
        if len(rows) >= MAX_ROWS:
            truncated = True
            return None
        x = 8 + depth * INDENT
        y = 18 + len(rows) * ROW
        note = str(node.get("note") or "")
        rows.append(TreeRow(x, y, str(node.get("term", "")), int(node.get("lookups", 0)), int(node.get("void", 0)),
                            note, depth, bool(note)))
        last_child_y = None
        for child in node.get("children") or ():
            child_y = visit(child, depth + 1)
            if child_y is None:
                break
            segments.append(Segment(x + 4, child_y - 4, x + INDENT - 2, child_y - 4))
            last_child_y = child_y
        if last_child_y is not None:
            segments.append(Segment(x + 4, y + 4, x + 4, last_child_y - 4))
        return y

    visit(tree, 0)
    width = max((r.x + CHAR * (len(r.term) + len(r.note) + (22 if r.void else 12)) for r in rows), default=200)
    return TreePicture(round(max(width, 320)), 8 + len(rows) * ROW, tuple(rows), tuple(segments), truncated)


@dataclass(frozen=True, slots=True)
class LimitBar:
    """The lookup count against the limit: ``used`` of ``limit``, drawn on a scale of ``scale``."""

    used: int
    limit: int
    width: float
    used_width: float
    limit_x: float
    over: bool
    ticks: tuple[float, ...]


def limit_bar(used: int, limit: int = 10, width: float = 320) -> LimitBar:
    scale = max(limit, used)
    unit = width / scale
    return LimitBar(used, limit, width, round(used * unit, 1), round(limit * unit, 1), used > limit,
                    tuple(round(i * unit, 1) for i in range(1, scale)))


__all__ = ["LimitBar", "TreePicture", "limit_bar", "tree_picture"]
