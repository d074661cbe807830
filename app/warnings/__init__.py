"""研判预警: early warnings computed from cases and risk points, with thresholds as data."""
