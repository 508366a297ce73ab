"""Test helpers for people who build on Entrepôt (they need pytest).

:mod:`entrepot.testing.targets`
    the target contract as pytest mixins: a new backend runs the same
    tests every built-in target passes, against its own server.
"""
