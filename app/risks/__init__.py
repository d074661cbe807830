"""Risk points and their inspection ledger (风险隐患排查台账)."""
