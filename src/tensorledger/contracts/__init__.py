"""Smart contracts, written against Fabric's Python contract API, run by every backend."""
