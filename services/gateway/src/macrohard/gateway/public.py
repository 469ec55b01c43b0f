"""What other packages may use of the gateway; nothing else in `macrohard.gateway` crosses over.

Tenants use the gateway over HTTP. In process: the gateway itself with its settings (the
benchmarks run it beside a baseline), and its master-key helpers (`mh up` creates the key
the gateway encrypts tenants' secrets with).
"""

from macrohard.gateway.context import GatewaySettings
from macrohard.gateway.main import Gateway
from macrohard.gateway.secrets import decode_master_key, ensure_master_key, new_master_key

__all__ = [
    "Gateway",
    "GatewaySettings",
    "decode_master_key",
    "ensure_master_key",
    "new_master_key",
]
