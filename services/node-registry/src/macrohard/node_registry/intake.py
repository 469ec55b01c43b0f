"""Heartbeats off the wire in batches, without nats-py's per-message machinery.

A registry replica absorbs tens of thousands of heartbeats a second. nats-py's parser
matches each message with a regular expression, copies it out of a bytearray and awaits a
coroutine per message; on the development machine that was ~5 us of a heartbeat's ~6.7 us
(measured by feeding the same wire bytes to both parsers: `mh bench registry` prints
before/after). Heartbeat subscriptions stay ordinary nats-py subscriptions (the client
re-subscribes them after a reconnect, `unsubscribe` works as usual); only the parsing of
what the server sends is taken over: `install` puts a `BatchParser` in front of the
client's own parser. Each read from the socket (up to 32 KiB, ~400 heartbeats) is split
into lines once, and when it holds only whole `MSG` frames of raw subscriptions with their
sizes right (the common case, checked with a few C-level passes over the read rather than
Python code per message), every (subject, payload) of the read goes to the raw handler in
one call. Anything else in a read (a PING, an INFO, another subscription's message, a
payload containing CRLF, a message with a reply subject) sends that read down the careful
path: frame by frame by declared length, raw frames (with or without a reply subject) to
the handler, every other frame handed whole to nats-py's parser, in order.

The handler must not block and must not await: what a beat reveals that needs I/O (a car
back from lost, a battery below its owner's minimum) is queued by the registry and written
by a task of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.protocol.parser import Parser

# (subjects, payloads) of one read's raw messages, in arrival order.
BatchHandler = Callable[[list[bytes], list[bytes]], None]

_CRLF = b"\r\n"
_MSG = b"MSG"


class BatchParser:
    """Stands in for nats-py's `Parser` on one client (`reset` and `parse` are all the
    client calls); `handlers` maps a raw subscription's sid (as sent on the wire) to its
    batch handler."""

    def __init__(self, inner: Parser) -> None:
        self.inner = inner
        self.handlers: dict[bytes, BatchHandler] = {}
        self._pending = b""

    def reset(self) -> None:
        self._pending = b""
        self.inner.reset()

    async def parse(self, data: bytes = b"") -> None:
        buf = self._pending + data if self._pending else data
        lines = buf.split(_CRLF)
        tail = lines.pop()  # after the last CRLF: an incomplete frame, or b""
        batch = None
        if len(lines) % 2 == 0 or lines[-1][:4] == b"MSG ":
            if len(lines) % 2:  # the last header's payload has not arrived yet
                tail = lines.pop() + _CRLF + tail
            batch = self._whole_batch(lines[0::2], lines[1::2]) if lines else None
        if batch is None:
            self._pending = await self._careful(buf)
            return
        handler, subjects, payloads = batch
        self._pending = tail
        handler(subjects, payloads)

    def _whole_batch(
        self, heads: list[bytes], payloads: list[bytes]
    ) -> tuple[BatchHandler, list[bytes], list[bytes]] | None:
        """The one handler that takes every frame of these lines with their subjects, or
        None when the lines are anything but whole MSG frames (4 fields, no reply) of one
        raw handler's sids with their declared sizes."""
        n = len(heads)
        fields = b" ".join(heads).split(b" ")
        if len(fields) != 4 * n or fields[0::4].count(_MSG) != n:
            return None
        found = set(map(self.handlers.get, set(fields[2::4])))
        handler = found.pop() if len(found) == 1 else None
        if handler is None:
            return None
        try:
            sizes = list(map(int, fields[3::4]))
        except ValueError:
            return None
        # Equal sizes frame by frame prove the split found every frame's true end: a payload
        # holding CRLF would split short of its declared size.
        if sizes != list(map(len, payloads)):
            return None
        return handler, fields[1::4], payloads

    async def _careful(self, buf: bytes) -> bytes:
        """Frame by frame by declared length; returns the incomplete rest."""
        pos, n = 0, len(buf)
        while pos < n:
            end = buf.find(_CRLF, pos)
            if end < 0:
                break
            head = buf[pos:end]
            if head[:4] == b"MSG " or head[:5] == b"HMSG ":
                fields = head.split()
                try:
                    stop = end + 2 + int(fields[-1])
                except (ValueError, IndexError):
                    stop = end  # malformed: nats-py's parser raises its protocol error
                if stop + 2 > n:
                    break
                # MSG <subject> <sid> [reply] <size>: a raw handler takes it, reply or not
                # (heartbeats are never answered), in its place among the frames.
                handler = self.handlers.get(fields[2]) if len(fields) in (4, 5) else None
                if handler is not None and fields[0] == _MSG:
                    handler([fields[1]], [buf[end + 2 : stop]])
                else:
                    await self.inner.parse(buf[pos : stop + 2])
                pos = stop + 2
            else:
                await self.inner.parse(buf[pos : end + 2])
                pos = end + 2
        return buf[pos:]


def install(nc: NATS) -> BatchParser:
    """The client's batch parser, put in front of its own parser on first use."""
    current = nc._ps
    if isinstance(current, BatchParser):
        return current
    parser = BatchParser(current)
    nc._ps = parser  # type: ignore[assignment]
    return parser


async def subscribe_raw(nc: NATS, subject: str, handler: BatchHandler) -> Subscription:
    """Subscribe `subject` with `handler` called with the raw subjects and payloads of its
    messages, a read's worth at a time (give every raw subscription of a connection the
    same handler, so that a read's frames go in one call)."""

    async def first(msg: Msg) -> None:
        # Only what arrives before the handler is registered below comes this way.
        handler([msg.subject.encode()], [msg.data])

    parser = install(nc)
    sub = await nc.subscribe(subject, cb=first, pending_msgs_limit=-1, pending_bytes_limit=-1)
    parser.handlers[b"%d" % sub._id] = handler
    return sub


def unsubscribe_raw(nc: NATS, sub: Subscription) -> None:
    """Forget the raw handler (call before `sub.unsubscribe()`)."""
    install(nc).handlers.pop(b"%d" % sub._id, None)
