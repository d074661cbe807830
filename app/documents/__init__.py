"""Written notices (书面告知) generated from a case as PDF, from admin-editable templates."""
