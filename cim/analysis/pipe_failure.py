"""Impact of a pipe failure: which valves to close, which segments and buildings lose supply.

Why: when a main bursts, the duty engineer needs the valves that isolate it and the customers
who will be without water (or gas, or power) until it is fixed. The network is the ``pipes``
layer's ``from_node``/``to_node`` graph of the failed pipe's network. Valves sit at nodes
(``valves=None`` means every node has one on each branch, so only the failed pipe is shut);
with a list of valve nodes, the shut-off spreads across valve-less nodes until it meets valves.
Supply comes from ``sources`` (node ids) or, by default, the network's entry nodes: nodes of its
largest-diameter pipes on the edge of the network's extent. Segments no longer connected to a
source lose supply; so do the buildings they serve (each building is served by the nearest pipe
of that network within ``service_distance`` m).

Example:
    >>> from cim.analysis import pipe_failure
    >>> out = pipe_failure(city, "pipes.W000123")            # doctest: +SKIP
    >>> out.valves, len(out.segments_out), len(out.buildings_out)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from cim.analysis._common import require_layer, source_frame
from cim.analysis.inputs import find_inputs
from cim.errors import FeatureNotFound, ValidationError

if TYPE_CHECKING:
    import geopandas as gpd

    from cim.city import City


@dataclass
class PipeFailure:
    """The failed pipe, valves to close, what is shut, what loses supply, and the sources used."""

    pipe: str
    network: str | None
    valves: list[str]
    isolated: list[str]
    segments_out: list[str]
    buildings_out: list[str]
    sources: list[str]
    details: dict[str, Any] = field(default_factory=dict)


def pipe_failure(city: City, pipe: str, *, layer: str | None = None, sources: Sequence[str] | None = None,
                 valves: Sequence[str] | None = None, buildings: str | Sequence[str] | None = None,
                 service_distance: float = 60.0) -> PipeFailure:
    """The consequences of ``pipe`` (feature id) failing; see the module docstring for the model.

    ``layer`` is the pipe's own layer unless given; ``buildings`` the layers of buildings served
    (default: every layer holding features of class Building)."""
    if layer is None:
        try:
            layer = city.feature(pipe)["layer"]
        except FeatureNotFound as exc:
            raise FeatureNotFound(f"no pipe {pipe!r} in {city.location}: give the feature id of a pipe") from exc
    require_layer(city, layer, purpose="pipe failure analysis")
    frame = city.features(layer)
    if pipe not in set(frame["id"]):
        raise FeatureNotFound(f"no pipe {pipe!r} in layer {layer!r}: give a feature id such as {frame['id'].iloc[0]!r}")
    for col in ("from_node", "to_node"):
        if col not in frame.columns:
            raise ValidationError(f"layer {layer!r} has no {col} field: a pipe network needs from_node and to_node")
    net = frame.loc[frame["id"] == pipe, "network"].iloc[0] if "network" in frame.columns else None
    if net is not None:
        frame = frame[frame["network"] == net].reset_index(drop=True)
    nodes, u, v = _graph(frame)
    failed = int(np.flatnonzero(frame["id"].to_numpy() == pipe)[0])
    shut, closing = _isolate(failed, u, v, len(nodes), None if valves is None else {nodes[n] for n in valves
                                                                                   if n in nodes})
    src = list(sources) if sources else _entry_nodes(frame, nodes, u, v)
    unknown = [s for s in src if s not in nodes]
    if unknown:
        raise ValidationError(f"unknown source node {unknown[0]!r}: use from_node/to_node values of the pipes")
    live = _supplied(u, v, len(nodes), shut, [nodes[s] for s in src])
    ids = frame["id"].to_numpy()
    out = ids[~live]
    names = np.array(list(nodes))
    served = _buildings_served(city, buildings, frame.geometry.values, service_distance)
    lost = sorted(served.loc[np.isin(served["pipe"], np.flatnonzero(~live)), "id"]) if len(served) else []
    return PipeFailure(pipe=pipe, network=net, valves=sorted(str(n) for n in names[sorted(closing)]),
                       isolated=sorted(str(i) for i in ids[shut]), segments_out=sorted(str(i) for i in out),
                       buildings_out=[str(b) for b in lost], sources=sorted(str(s) for s in src),
                       details={"pipes_in_network": len(frame), "nodes": len(nodes)})


def _graph(frame: gpd.GeoDataFrame) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    names = np.concatenate([frame["from_node"].astype(str).to_numpy(), frame["to_node"].astype(str).to_numpy()])
    unique, index = np.unique(names, return_inverse=True)
    nodes = {name: i for i, name in enumerate(unique)}
    return nodes, index[: len(frame)], index[len(frame):]


def _isolate(failed: int, u: np.ndarray, v: np.ndarray, n: int, valves: set[int] | None) -> tuple[np.ndarray, set]:
    """Pipes shut to isolate ``failed`` and the valve nodes closed to do it."""
    shut = np.zeros(len(u), dtype=bool)
    shut[failed] = True
    if valves is None:
        return shut, {int(u[failed]), int(v[failed])}
    closing: set[int] = set()
    frontier, seen = [int(u[failed]), int(v[failed])], set()
    while frontier:
        node = frontier.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in valves:
            closing.add(node)
            continue
        for edge in np.flatnonzero((u == node) | (v == node)):
            if not shut[edge]:
                shut[edge] = True
            frontier += [int(u[edge]), int(v[edge])]
    return shut, closing


def _entry_nodes(frame: gpd.GeoDataFrame, nodes: dict[str, int], u: np.ndarray, v: np.ndarray) -> list[str]:
    """Nodes of the largest-diameter pipes on the edge of the network's extent (their dead ends, if any)."""
    if "diameter_mm" in frame.columns:
        big = frame["diameter_mm"].to_numpy(dtype=float) >= np.nanmax(frame["diameter_mm"].to_numpy(dtype=float))
    else:
        big = np.ones(len(frame), dtype=bool)
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(frame.geometry.values, 0)),
                      shapely.get_coordinates(shapely.get_point(frame.geometry.values, -1))])
    node_of = np.concatenate([u, v])
    minx, miny, maxx, maxy = frame.total_bounds
    edge = (np.isclose(ends[:, 0], minx, atol=1.0) | np.isclose(ends[:, 0], maxx, atol=1.0)
            | np.isclose(ends[:, 1], miny, atol=1.0) | np.isclose(ends[:, 1], maxy, atol=1.0))
    degree = np.bincount(node_of, minlength=len(nodes))
    pick = edge & np.concatenate([big, big])
    if (pick & (degree[node_of] == 1)).any():  # a main that ends at the edge: that end is the feed
        pick &= degree[node_of] == 1
    names = np.array(list(nodes))
    chosen = sorted(set(names[node_of[pick]]))
    if not chosen:
        raise ValidationError("could not find the network's entry nodes: pass sources=[node ids]")
    return chosen


def _supplied(u: np.ndarray, v: np.ndarray, n: int, shut: np.ndarray, sources: list[int]) -> np.ndarray:
    """True for pipes still connected to a source once ``shut`` pipes are out."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    keep = ~shut
    graph = coo_matrix((np.ones(keep.sum()), (u[keep], v[keep])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    fed = np.isin(label, label[sources])
    return keep & fed[u] & fed[v]


def _buildings_served(city: City, layers: str | Sequence[str] | None, pipes: np.ndarray, distance: float) -> Any:
    import pandas as pd

    source = find_inputs(city, {"buildings": layers} if layers else None)["buildings"]
    if not source.present:
        return pd.DataFrame({"id": [], "pipe": []})
    b = source_frame(city, source)
    idx_b, idx_p = shapely.STRtree(pipes).query_nearest(b.geometry.values, max_distance=distance, all_matches=False)
    return pd.DataFrame({"id": b["id"].to_numpy()[idx_b], "pipe": idx_p})


__all__ = ["pipe_failure", "PipeFailure"]
