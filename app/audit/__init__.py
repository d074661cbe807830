"""The tamper-evident audit log: append-only, hash-chained."""
