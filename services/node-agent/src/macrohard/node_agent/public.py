"""What other packages may use of the node agent; nothing else in `macrohard.node_agent` crosses.

A car runs the agent as its own process (`run_node`, or `main` with its options); the fleet
simulation (`mh fleet simulate`) runs many agents in process, with their pure car model and
the trip generator.
"""

from macrohard.node_agent import simulation
from macrohard.node_agent.agent import NodeAgent, NodeIdentity
from macrohard.node_agent.domain import CarState, ScheduledChange, battery
from macrohard.node_agent.main import NodeOptions, main, run_node

__all__ = [
    "CarState",
    "NodeAgent",
    "NodeIdentity",
    "NodeOptions",
    "ScheduledChange",
    "battery",
    "main",
    "run_node",
    "simulation",
]
