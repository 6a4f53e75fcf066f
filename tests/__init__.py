"""zegel test suite (a package, so tests/spf is tests.spf and never shadows pyspf's spf)."""
