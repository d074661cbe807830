"""Vector tiles (ST_AsMVT) of cases, grid cells and risk points, scoped and cached."""
