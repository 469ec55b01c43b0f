"""What other packages may use of the node registry in process: the fleet's read model.

Everyone talks to the registry itself over NATS with the shapes of `macrohard.contracts.fleet`
(lease requests and replies, fleet stats, heartbeats). Readers of the fleet as the log has it
(the console) use `cars`: one row per car, its state, battery, leases, utilisation and
reliability, so the `fleet` schema stays the registry's to change.
"""

from macrohard.node_registry.queries import CAR_STATES, Car, CarState, car_state, cars

__all__ = ["CAR_STATES", "Car", "CarState", "car_state", "cars"]
