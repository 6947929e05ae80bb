"""Shared test helpers: the test servers, whole CLI runs, report checks, the repository root."""
