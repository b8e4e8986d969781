"""The demo data `manage.py seed_demo` loads (see builder.py)."""
