"""The resident's side (DOMAIN §9, docs/resident.md): receipts, progress page, ratings."""
