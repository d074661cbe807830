"""Personal data in free text and retention (issue 19; docs/privacy.md)."""
