"""Client tests: each source client against a local HTTP server serving real recordings."""
