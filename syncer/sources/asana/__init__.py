"""Asana source: `source` pages the official client (endpoints in `settings`), `mapping` maps the pages."""
