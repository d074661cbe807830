"""雪亮工程 cameras: GB/T 28181 device codes, placement, map layer, nearby (docs/cameras.md)."""
