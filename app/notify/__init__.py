"""Notifications: the in-app inbox and SMS, written in the transaction of the change."""
