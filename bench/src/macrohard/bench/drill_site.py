"""The drill's web app: one sign-up form per task, and the site's own record of every effect.

The platform's log says what the agent believes it did; this server says what really reached
the site. Each task gets its own form (`/form?t=<task>`), whose submit posts the values with
the task's token; the server records every submit, then redirects (post/redirect/get, so a
reload never posts again). A completed task whose record lacks the right values is a false
completion; a token submitted twice is an effect repeated.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs

from macrohard.devkit.pages import LocalSite, PageReply, PageRequest

TEAMS = ("Design", "Engineering", "Sales", "Support")
NAMES = (
    "Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov",
    "Donald Knuth", "Frances Allen", "Ken Thompson", "Margaret Hamilton", "John Backus",
)  # fmt: skip

FORM = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Acme Corp — sign-up</title></head><body>
<h1>Sign-up</h1>
<form method="post" action="/submit">
  <input type="hidden" name="t" value="{token}">
  <label for="name">Full name</label>
  <input id="name" name="name" type="text" autocomplete="off">
  <label for="team">Team</label>
  <select id="team" name="team"><option value="">Choose a team</option>{options}</select>
  <label><input id="laptop" name="laptop" type="checkbox"> Needs a laptop</label>
  <p><button type="submit">Submit</button></p>
</form></body></html>"""

DONE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Acme Corp — welcome</title></head><body><p role="status">Welcome {name}</p></body></html>"""


@dataclass(frozen=True, slots=True)
class Expected:
    """What a task's goal asks the site to receive."""

    name: str
    team: str

    @property
    def goal(self) -> str:
        return (
            f'Enter "{self.name}" into the full name field, select "{self.team}" from the team '
            'list, check "Needs a laptop" and press Submit.'
        )

    def matches(self, submit: dict[str, str]) -> bool:
        return (submit.get("name"), submit.get("team"), submit.get("laptop")) == (
            self.name,
            self.team,
            "on",
        )


def expected_for(index: int) -> Expected:
    return Expected(NAMES[index % len(NAMES)], TEAMS[index % len(TEAMS)])


class DrillSite(LocalSite):
    """The forms, and `submits[token]`: every submit the site received for that token."""

    def __init__(self) -> None:
        super().__init__(self._page)
        self.submits: dict[str, list[dict[str, str]]] = {}
        self._lock = threading.Lock()

    def form_url(self, token: str) -> str:
        return self.url(f"/form?t={token}")

    def _page(self, request: PageRequest) -> PageReply:
        if request.method == "POST" and request.path == "/submit":
            fields = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
            with self._lock:
                self.submits.setdefault(fields.get("t", ""), []).append(fields)
            return PageReply(303, headers={"Location": f"/done?t={fields.get('t', '')}"})
        token = html.escape(request.query.get("t", [""])[0])
        if request.path == "/form":
            options = "".join(f"<option>{t}</option>" for t in TEAMS)
            return PageReply(body=FORM.format(token=token, options=options))
        if request.path == "/done":
            with self._lock:
                last = (self.submits.get(request.query.get("t", [""])[0]) or [{}])[-1]
            return PageReply(body=DONE.format(name=html.escape(last.get("name", ""))))
        return PageReply(404, "not found")
