"""Jira Cloud source: `source` fetches raw pages through `client` (endpoints in `settings`), `mapping` maps them."""
