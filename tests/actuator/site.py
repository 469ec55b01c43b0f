"""A small web site the actuator tests (and the overhead benchmark) drive: real HTTP, local.

Records every request path so a test can prove a refused request never reached the server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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


class Site:
    """A threaded HTTP server on 127.0.0.1 with the test pages."""

    def __init__(self, late_ms: int = 200) -> None:
        self.hits: list[str] = []
        self.late_ms = late_ms
        # Every order the site received (its real effects), and a hook run on each before the
        # answer: a test kills an actuator there, right after its click reached the site.
        self.orders: list[dict[str, list[str]]] = []
        self.on_order: Callable[[], None] = lambda: None
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits.append(self.path)
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                route: dict[str, Callable[[], tuple[int, str, dict[str, str]]]] = {
                    "/form": lambda: (200, FORM % {"late_ms": site.late_ms}, {}),
                    "/next": lambda: (200, NEXT, {}),
                    "/widgets": lambda: (200, WIDGETS, {}),
                    "/redirect": lambda: (302, "", {"Location": query["to"][0]}),
                    "/secret": lambda: (200, "<title>Secret</title>internal data", {}),
                    "/probe": lambda: (200, query["html"][0], {}),
                    "/order": lambda: (200, ORDER, {}),
                    "/thanks": lambda: (200, THANKS, {}),
                }
                status, body, headers = route.get(url.path, lambda: (404, "not found", {}))()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                for key, value in headers.items():
                    self.send_header(key, value)
                data = body.encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                site.orders.append(parse_qs(body))
                site.on_order()
                # Post/redirect/get: reloading the answer never posts again.
                self.send_response(303)
                self.send_header("Location", "/thanks")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self) -> Site:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
