"""A small web site the actuator tests (and the overhead benchmark) drive: real HTTP, local.

Records every request path so a test can prove a refused request never reached the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs

from macrohard.actuator.totp import decode_seed, totp_code
from macrohard.devkit.pages import LocalSite, PageReply, PageRequest

FORM = """<!doctype html><html><head><title>Order form</title></head><body>
<h1>Order</h1>
<label for="name">Name</label> <input id="name" name="name">
<label for="pw">Password</label> <input id="pw" type="password">
<label for="colour">Colour</label>
<select id="colour"><option>Red</option><option>Green</option><option>Blue</option></select>
<label><input type="checkbox" id="sub"> Subscribe</label>
<button id="go" onclick="submitForm()">Submit</button>
<button id="count" onclick="window.nClicks=(window.nClicks||0)+1;
  document.getElementById('clicks').textContent='Clicks: '+window.nClicks">Count</button>
<span id="clicks">Clicks: 0</span>
<div id="slot"><button onclick="rerender()">Rerender</button></div>
<a href="/next">Next page</a>
<div style="display:none">Hidden words</div>
<p id="out"></p>
<script>
function submitForm() {
  const v = id => document.getElementById(id);
  v('out').textContent = 'Submitted: name=' + v('name').value + ', colour=' + v('colour').value
    + ', subscribed=' + v('sub').checked + ', pwlen=' + v('pw').value.length;
}
function rerender() {
  // Replaces the button with an identical new node: the old one goes stale.
  document.getElementById('slot').innerHTML =
    '<button onclick="rerender();document.title=\\'Rerendered\\'">Rerender</button>';
}
setTimeout(() => {
  const b = document.createElement('button'); b.textContent = 'Late button';
  b.onclick = () => { document.getElementById('out').textContent = 'Late clicked'; };
  document.body.appendChild(b);
}, %(late_ms)d);
</script></body></html>"""

WIDGETS = """<!doctype html><html><head><title>Widgets</title></head><body>
<label for="file">Attachment</label>
<input id="file" type="file" onchange="document.getElementById('log').textContent =
  'File: ' + this.files[0].name + ' ' + this.files[0].size">
<div id="src" draggable="true" style="width:80px;height:30px;background:#ccc">Drag me</div>
<div id="dst" style="width:200px;height:60px;border:1px solid"
  ondragover="event.preventDefault()"
  ondrop="event.preventDefault();document.getElementById('log').textContent='Dropped'"
  >Drop here</div>
<div style="height:2000px"></div>
<button onclick="document.getElementById('log').textContent='Bottom: ' + Math.round(scrollY > 0)">
Bottom</button>
<p id="log"></p>
<script>document.getElementById('src').addEventListener('dragstart',
  e => e.dataTransfer.setData('text/plain', 'x'));</script>
</body></html>"""

NEXT = """<!doctype html><html><head><title>Next</title></head><body>
<h2>Second page</h2><p>You made it.</p><a href="/form">Back to form</a></body></html>"""


ORDER = """<!doctype html><html><head><title>Order</title></head><body>
<form method="post" action="/submit">
<label for="who">Your name</label> <input id="who" name="who">
<button type="submit">Place order</button>
</form></body></html>"""

THANKS = """<!doctype html><html><head><title>Thanks</title></head><body>
<p>Order received.</p></body></html>"""


# The order form whose button thinks for a while (its handler blocks the page) before it
# posts: an actuator killed meanwhile was clicking, but nothing had left the browser yet.
SLOW_ORDER = """<!doctype html><html><head><title>Order</title></head><body>
<form id="f" method="post" action="/submit">
<label for="who">Your name</label> <input id="who" name="who">
</form>
<button onclick="const t = Date.now(); while (Date.now() - t < %(think_ms)d) {}
  document.getElementById('f').submit()">Place order</button></body></html>"""

# An order sent by the page's worker while the page itself is busy a while (still inside the
# click): an actuator killed meanwhile had its order reach the site and be answered. The
# page shows how many orders the site holds, so a reload shows whether this one arrived.
XHR_ORDER = """<!doctype html><html><head><title>Order</title></head><body>
<p>Orders received: %(orders)d</p>
<label for="who">Your name</label> <input id="who">
<script>const w = new Worker('/order-worker.js');</script>
<button onclick="w.postMessage(document.getElementById('who').value);
  const t = Date.now(); while (Date.now() - t < %(think_ms)d) {}
  document.getElementById('out').textContent = 'Sent'">Send order</button>
<p id="out"></p></body></html>"""

ORDER_WORKER = """onmessage = e => fetch('/submit-xhr', {method: 'POST',
  body: 'who=' + encodeURIComponent(e.data)});"""

TOTP_FORM = """<!doctype html><html><head><title>Second factor</title></head><body>
<form action="/totp-check"><label>Code <input name="code" autocomplete="off"></label>
<button type="submit">Verify</button></form></body></html>"""
# The seed the /totp-check page verifies codes against (RFC 6238's own test key, base32).
TOTP_SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def _totp_verdict(code: str) -> str:
    """Accept the code of this or the neighbouring 30 s window, as real sites do."""
    now = time.time()
    valid = {totp_code(decode_seed(TOTP_SEED), now + d * 30) for d in (-1, 0, 1)}
    verdict = "Code accepted" if code in valid else "Code rejected"
    return f"<title>{verdict}</title><p>{verdict}</p>"


class Site(LocalSite):
    """The test pages on a local site; `hits` records every request path."""

    def __init__(self, late_ms: int = 200) -> None:
        super().__init__(self._page)
        self.late_ms = late_ms
        # Every order the site received (its real effects), and a hook run on each before the
        # answer: a test kills an actuator there, right after its click reached the site.
        self.orders: list[dict[str, list[str]]] = []
        self.on_order: Callable[[], None] = lambda: None
        self.stalled: set[str] = set()  # /stall-once keys that already hung once
        # Every GET of /landing, and a hook run before each answer (a test kills the
        # actuator that is navigating there).
        self.landings = 0
        self.on_landing: Callable[[], None] = lambda: None
        # How long the /slow-order and /xhr-order buttons block their page.
        self.think_ms = 4000

    def _page(self, request: PageRequest) -> PageReply:
        query = request.query
        route: dict[str, Callable[[], PageReply]] = {
            "/form": lambda: PageReply(body=FORM % {"late_ms": self.late_ms}),
            "/next": lambda: PageReply(body=NEXT),
            "/widgets": lambda: PageReply(body=WIDGETS),
            "/redirect": lambda: PageReply(302, headers={"Location": query["to"][0]}),
            "/secret": lambda: PageReply(body="<title>Secret</title>internal data"),
            "/probe": lambda: PageReply(body=query["html"][0]),
            "/order": lambda: PageReply(body=ORDER),
            "/thanks": lambda: PageReply(body=THANKS),
            "/totp": lambda: PageReply(body=TOTP_FORM),
            "/totp-check": lambda: PageReply(body=_totp_verdict(query["code"][0])),
            "/stall-once": lambda: self._stall_once(query["k"][0]),
            "/landing": self._landing,
            "/slow-order": lambda: PageReply(body=SLOW_ORDER % {"think_ms": self.think_ms}),
            "/order-worker.js": lambda: PageReply(
                body=ORDER_WORKER, content_type="text/javascript"
            ),
            "/xhr-order": lambda: PageReply(
                body=XHR_ORDER % {"think_ms": self.think_ms, "orders": len(self.orders)}
            ),
        }
        if request.method == "POST" and request.path == "/submit":
            self.orders.append(parse_qs(request.body.decode()))
            self.on_order()
            # Post/redirect/get: reloading the answer never posts again.
            return PageReply(303, headers={"Location": "/thanks"})
        if request.method == "POST" and request.path == "/submit-xhr":
            self.orders.append(parse_qs(request.body.decode()))
            return PageReply(body="ok")
        return route.get(request.path, lambda: PageReply(404, "not found"))()

    def _landing(self) -> PageReply:
        self.landings += 1
        self.on_landing()
        return PageReply(body="<title>Landing</title><a href='/order'>Order</a>")

    def _stall_once(self, key: str) -> PageReply:
        """A page whose first load hangs its renderer (a starved machine, not a hostile
        script): every later load answers."""
        if key in self.stalled:
            return PageReply(body="<title>Answered</title><a href='/next'>Go on</a>")
        self.stalled.add(key)
        return PageReply(body="<title>Stalled</title><script>while (true) {}</script>")
