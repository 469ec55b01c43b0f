"""The demo web app: a small new-hire form a tenant might hand the platform, and its goal.

`mh demo` serves it to show the platform end to end; the console's browser tests drive the
same app, so both show a newcomer one and the same task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from macrohard.devkit.pages import LocalSite

SITE = Path(__file__).with_name("demo_site")
GOAL = (
    'Enter "Ada Lovelace" into the full name field, select "Engineering" from the team list, '
    'check "Needs a laptop" and press Submit.'
)


@contextlib.contextmanager
def serve_site() -> Iterator[str]:
    """The demo web app on a free loopback port (what a tenant's app would be)."""
    with LocalSite(directory=SITE) as site:
        yield site.url("/index.html")
