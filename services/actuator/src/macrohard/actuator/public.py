"""What other packages may use of the actuator; nothing else in `macrohard.actuator` crosses over.

Others drive a browser through the actuator over the bus (IntentEmitted in, ActionExecuted
and PageObserved out). In process they may use only the launch recipe of its Chromium (so
every Chromium the platform starts is started the same way), its page observer and its
screenshot store (the agent-overhead benchmark measures them bare), and the observation and
gestures on a bare page (the MiniWoB direct path sees and acts as the actuator does).
`mh task replay --live` browses with its browser pool (the same request guard, egress proxy
and clean environment) under the tenant's allowlist as the actuator reads it.
"""

from macrohard.actuator.browser import CHROMIUM_ARGS, BrowserPool, TaskBrowser, chromium_path
from macrohard.actuator.domain import parse_keys
from macrohard.actuator.gestures import GESTURES, hover, perform_gesture
from macrohard.actuator.main import local_test_mode
from macrohard.actuator.observer import Observer, read_page
from macrohard.actuator.screenshots import ScreenshotStore
from macrohard.actuator.tenants import AllowedDomains

__all__ = [
    "CHROMIUM_ARGS",
    "GESTURES",
    "AllowedDomains",
    "BrowserPool",
    "Observer",
    "ScreenshotStore",
    "TaskBrowser",
    "chromium_path",
    "hover",
    "local_test_mode",
    "parse_keys",
    "perform_gesture",
    "read_page",
]
