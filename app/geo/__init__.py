"""Administrative geography: regions (county, town, village) and grid cells (网格)."""
