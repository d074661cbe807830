"""Historical ledger (台账) import: templates, import records, the parser and the bulk load."""
