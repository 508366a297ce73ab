"""Real servers for the tests, started by fixtures on free loopback ports.

Every module in this package is loaded as a pytest plugin by ``tests/conftest.py``,
so a new server is one new module defining its fixtures.
"""
