"""Audiences (saved segments of a sending list) and list hygiene."""
