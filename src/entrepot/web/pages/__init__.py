"""The dashboard's pages: one module each, exposing ``routes(host) -> list[BaseRoute]``."""
