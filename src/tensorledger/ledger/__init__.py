"""The embedded ledger: Fabric's execute-order-validate flow over SQLite, in one process."""
