"""Lineage route: registry/lineage.py's tree as a graph of nodes and edges for drawing."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from tensorledger import registry
from tensorledger.registry import LineageNode
from tensorledger.server.auth import ReadAccess
from tensorledger.server.routes._common import ERRORS, require_deployed
from tensorledger.server.schemas import LineageGraph

router = APIRouter(tags=["lineage"], responses=ERRORS)


def _node_id(node: LineageNode) -> str:
    return f"{node.kind}:{node.ref}"


def graph(tree: LineageNode) -> dict[str, Any]:
    """Nodes (unique by kind:ref) and edges (tree parent → child, with the relation)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, str]] = []
    seen_edges: set[tuple[str, str, str]] = set()

    def visit(node: LineageNode) -> None:
        me = _node_id(node)
        if me not in nodes:
            info = node.to_dict()
            nodes[me] = {
                "id": me,
                "kind": node.kind,
                "label": node.ref,
                "ref": node.ref,
                "hash": info.get("hash"),
                "owner": info.get("owner"),
                "tx_id": info.get("txId"),
                "missing": node.missing,
            }
        for child in node.children:
            edge = (me, _node_id(child), child.relation)
            if edge not in seen_edges:
                seen_edges.add(edge)
                edges.append({"from": edge[0], "to": edge[1], "relation": edge[2]})
            visit(child)

    visit(tree)
    return {"root": _node_id(tree), "nodes": list(nodes.values()), "edges": edges}


@router.get("/channels/{ch}/lineage/{kind}/{ref}", response_model=LineageGraph)
def lineage(
    access: ReadAccess, kind: Literal["dataset", "model", "analysis", "any"], ref: str
) -> dict[str, Any]:
    """The lineage graph of a dataset, model or analysis ('id@v', or a bare id for the newest)."""
    for chaincode in (registry.DATASETS, registry.MODELS, registry.ANALYSES):
        require_deployed(access, chaincode)
    gw = access.state.ledger.gateway(access.principal.identity)
    tree = registry.lineage(gw, ref, kind=None if kind == "any" else kind, channel=access.channel)
    return {**graph(tree), "tree": tree.to_dict()}
