"""工作简报 (work briefings): a region's period in numbers, as .docx and PDF (docs/briefings.md)."""
