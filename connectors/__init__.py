"""Connectors: the only code that knows a provider.

They receive plain data and return plain data; they never touch the database
or the state machine. `connectors.registry.get_connector(name)` finds one.
"""
