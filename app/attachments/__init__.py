"""Attachments (附件): photos and documents stored once by content hash, served by owner rights."""
