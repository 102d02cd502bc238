"""The API's routes, one module per area.

service, chain, registries, federated, lineage, proofs, contracts; each an `APIRouter`.
"""
