"""Accounts: users, roles, jurisdiction, sessions and API tokens."""
