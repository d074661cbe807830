"""The shared core under every feature: errors, the clock, paging, GeoJSON, the request's
transaction and the action runner. It imports no feature package (docs/architecture.md)."""
