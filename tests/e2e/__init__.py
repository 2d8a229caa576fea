"""Journeys through the gateway against the whole suite running as processes (marker `e2e`)."""
