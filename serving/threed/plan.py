"""Partition a layer's 3D features into a quadtree of tiles that load progressively.

Why: a client must see a million-building city from afar without fetching a million buildings.
The tree uses additive refinement (``refine: ADD``): every feature lives in exactly one tile.
A tile holds the ``max_features`` most *important* features of its square that no coarser tile
already holds (importance = max(height, √footprint area): what a viewer misses most when it is
absent); the rest go to the four quadrants, recursively. So the root holds the city's landmarks,
each level adds smaller buildings, and leaves hold what is left — no feature is drawn twice.

A tile's geometric error is the importance of the largest feature still missing below it (the
metres of error a viewer accepts by not refining); leaves have 0. Errors shrink with depth because
a child's missing set is a subset of its parent's.

Example:
    >>> nodes = plan_quadtree(cx, cy, importance, max_features=1500)  # doctest: +SKIP
    >>> nodes[0].content.size, len(nodes[0].children)  # doctest: +SKIP
    (1500, 4)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Node", "plan_quadtree", "DEFAULT_MAX_FEATURES", "MAX_DEPTH"]

DEFAULT_MAX_FEATURES = 1500
MAX_DEPTH = 20


@dataclass
class Node:
    """One tile of the plan: its quadtree address, its own features, its children (node indices)."""

    level: int
    x: int
    y: int
    content: np.ndarray  # indices into the planned feature arrays
    children: list[int] = field(default_factory=list)
    geometric_error: float = 0.0

    @property
    def key(self) -> str:
        """``level_x_y``: the content file's stem."""
        return f"{self.level}_{self.x}_{self.y}"


def plan_quadtree(cx: np.ndarray, cy: np.ndarray, importance: np.ndarray, *,
                  max_features: int = DEFAULT_MAX_FEATURES, max_depth: int = MAX_DEPTH) -> list[Node]:
    """Quadtree nodes (root first, parents before children) over points ``cx, cy``.

    ``cx, cy`` place each feature (its bbox centre); ``importance`` ranks them. A square around
    all points is split while a cell has more than ``max_features`` features left.
    """
    if max_features < 1:
        raise ValueError("max_features must be at least 1")
    cx, cy, importance = (np.asarray(a, dtype=float) for a in (cx, cy, importance))
    n = cx.size
    if n == 0:
        return []
    x0, y0 = float(cx.min()), float(cy.min())
    size = max(float(cx.max()) - x0, float(cy.max()) - y0, 1.0) * (1 + 1e-9)
    # importance-descending order once: each cell's first max_features members are its content
    order = np.lexsort((np.arange(n), -importance))
    nodes: list[Node] = []
    stack: list[tuple[int | None, int, int, int, np.ndarray]] = [(None, 0, 0, 0, order)]
    while stack:
        parent, level, x, y, members = stack.pop()
        node = Node(level, x, y, members[:max_features] if level < max_depth else members)
        nodes.append(node)
        if parent is not None:
            nodes[parent].children.append(len(nodes) - 1)
        rest = members[node.content.size:]
        if rest.size == 0:
            continue
        node.geometric_error = float(importance[rest[0]])  # members are importance-sorted
        cell = size / 2 ** (level + 1)
        qx = np.minimum(((cx[rest] - x0) / cell).astype(np.int64) - 2 * x, 1)
        qy = np.minimum(((cy[rest] - y0) / cell).astype(np.int64) - 2 * y, 1)
        quadrant = np.clip(qx, 0, 1) + 2 * np.clip(qy, 0, 1)
        for q in (3, 2, 1, 0):  # popped in order 0..3
            part = rest[quadrant == q]
            if part.size:
                stack.append((len(nodes) - 1, level + 1, 2 * x + q % 2, 2 * y + q // 2, part))
    return nodes
