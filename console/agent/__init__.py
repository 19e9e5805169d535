"""The headless agent: one ASGI app serving every compatible API."""
