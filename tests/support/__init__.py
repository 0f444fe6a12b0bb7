"""What many test packages share: fixtures and builders. Imported as `support.*` (tests/ is on sys.path)."""
