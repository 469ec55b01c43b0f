"""What other packages may use of the node registry in process: the fleet's read model.

Everyone talks to the registry itself over NATS with the shapes of `macrohard.contracts.fleet`
(lease requests and replies, fleet stats, heartbeats). Readers of the fleet as the log has it
(the console) use `cars`: one row per car, its state, battery, leases, utilisation and
reliability, so the `fleet` schema stays the registry's to change.

Reputation and its pure consequences (how much of a car's work to verify, when to quarantine
it) and placement (the index and `choose`, O(sample) per lease at any fleet size) are
exported for the offline fleet simulation, which must decide as the registry does; and
`intake_cost`, the heartbeat intake's CPU per beat beside nats-py's, for `mh bench registry`.
"""

from macrohard.node_registry.domain import Refusal
from macrohard.node_registry.intake_cost import intake_cost
from macrohard.node_registry.placement import Candidate, Choice, PlacementIndex, choose, quality
from macrohard.node_registry.preferences import OwnerPreferences
from macrohard.node_registry.queries import CAR_STATES, Car, CarState, car_state, cars
from macrohard.node_registry.reputation import (
    Reputation,
    answered,
    checked,
    placement_factor,
    quarantine_due,
    verify_share,
)

__all__ = [
    "CAR_STATES",
    "Candidate",
    "Car",
    "CarState",
    "Choice",
    "OwnerPreferences",
    "PlacementIndex",
    "Refusal",
    "Reputation",
    "answered",
    "car_state",
    "cars",
    "checked",
    "choose",
    "intake_cost",
    "placement_factor",
    "quality",
    "quarantine_due",
    "verify_share",
]
