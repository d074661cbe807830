"""专项排查 campaigns (issue 16 item 2): a sweep over a region, one task per grid cell."""
