"""The deterministic demo county (`flask seed demo`)."""
