"""Test helpers shared across test folders (the stub HTTP server)."""
