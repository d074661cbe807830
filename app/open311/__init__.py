"""Open311 GeoReport v2 (/open311/v2/): categories as services, cases as requests (docs/api.md)."""
