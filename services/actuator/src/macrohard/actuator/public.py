"""What other packages may use of the actuator; nothing else in `macrohard.actuator` crosses over.

Others drive a browser through the actuator over the bus (IntentEmitted in, ActionExecuted
and PageObserved out). In process they may use only the launch recipe of its Chromium (so
every Chromium the platform starts is started the same way), its page observer and its
screenshot store (the agent-overhead benchmark measures them bare).
"""

from macrohard.actuator.browser import CHROMIUM_ARGS, chromium_path
from macrohard.actuator.observer import Observer
from macrohard.actuator.screenshots import ScreenshotStore

__all__ = ["CHROMIUM_ARGS", "Observer", "ScreenshotStore", "chromium_path"]
