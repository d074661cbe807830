"""Operations: health checks (and later backups and metrics)."""
