"""A local web app with files: an orders page whose "Export CSV" link downloads a CSV, and
an upload form whose server records every file it received, byte for byte."""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass, field

from macrohard.devkit.pages import LocalSite, PageReply, PageRequest

ORDERS_CSV = b"order,customer,total\n1042,Ada Lovelace,80.00\n1043,Alan Turing,12.50\n"
ORDERS = """<!doctype html><html><head><title>Orders</title></head><body>
<h1>Orders</h1><table><tr><th>Order</th><th>Total</th></tr>
<tr><td>1042</td><td>80.00</td></tr><tr><td>1043</td><td>12.50</td></tr></table>
<a href="/export.csv">Export CSV</a> <a href="/tool.exe">Download tool</a>
</body></html>"""
UPLOAD = """<!doctype html><html><head><title>Upload</title></head><body>
<h1>Send a document</h1>
<form action="/upload" method="post" enctype="multipart/form-data">
<label for="doc">Document</label> <input id="doc" name="doc" type="file">
<button type="submit">Send</button></form></body></html>"""
RECEIVED = "<!doctype html><title>Received</title><p>Received {name} ({size} bytes).</p>"


@dataclass
class FilesApp:
    """The app's route, and what its upload form received: (file name, bytes)."""

    received: list[tuple[str, bytes]] = field(default_factory=list)

    def __call__(self, request: PageRequest) -> PageReply | None:
        if request.path == "/orders":
            return PageReply(body=ORDERS)
        if request.path == "/export.csv":
            return PageReply(
                body=ORDERS_CSV,
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
            )
        if request.path == "/tool.exe":
            return PageReply(
                body=b"MZ\x90\x00not really a program",
                content_type="application/x-msdownload",
                headers={"Content-Disposition": 'attachment; filename="tool.exe"'},
            )
        if request.path == "/upload" and request.method == "GET":
            return PageReply(body=UPLOAD)
        if request.path == "/upload" and request.method == "POST":
            name, data = form_file(request)
            self.received.append((name, data))
            return PageReply(body=RECEIVED.format(name=name, size=len(data)))
        return None


def form_file(request: PageRequest) -> tuple[str, bytes]:
    """The one file of a multipart/form-data body (parsed as the MIME message it is)."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    for part in message.iter_parts():
        name = part.get_filename()
        if name:
            return name, part.get_payload(decode=True) or b""
    return "", b""


def files_site() -> tuple[LocalSite, FilesApp]:
    app = FilesApp()
    return LocalSite(app), app
