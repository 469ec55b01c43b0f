"""What other packages may use of the node registry: nothing in process.

Everyone talks to the registry over NATS with the shapes of `macrohard.contracts.fleet`
(lease requests and replies, fleet stats, heartbeats). This module exists so that the rule
"a service is used only through its public module" has no exception.
"""

__all__: list[str] = []
