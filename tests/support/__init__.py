"""Reusable test helpers: a loopback HTTP server (`tests.support.http`) and its pytest fixtures."""
