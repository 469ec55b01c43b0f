"""A page whose own scripts record every gesture they receive, for the gesture tests.

Each widget writes what it got into `#log`, one `<samp>` per event, so a test checks the
page's account of the gesture, not the actuator's. Kept as HTML so it reads as a page.
"""

from pathlib import Path

GESTURES = (Path(__file__).parent / "gestures.html").read_text()
