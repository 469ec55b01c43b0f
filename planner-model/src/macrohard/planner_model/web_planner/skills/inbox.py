"""An inbox or a feed: act on the item a goal names by its author, its subject or its content.

"Forward the message from Kim to Lee", "reply to the mail about the budget with 'ok'",
"star the email whose subject is Budget", "mark the email from Kim as important", "delete
the message that mentions invoices", "open the email by Kim". Each becomes a `locate` of
the item (later steps are grounded near it, and its row is opened when what they need is
not on the page yet), then the mail steps every inbox shares: forward/reply = click, fill,
send; star and delete = the row's own icon. "Star it", "delete it", "mark it as important"
act on the item located earlier.
"""

from __future__ import annotations

import re

from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.skills.base import Ctx, reader
from macrohard.planner_model.web_planner.text import STOPWORDS, stem, words

_ITEM = r"(?:the\s+|an?\s+)?(?:e-?mail|message|mail|thread|conversation|post|item)"
_BY = r"(?:(?:that\s+was\s+|which\s+was\s+)?(?:sent\s+)?(?:from|by))\s+(?P<who>.+?)"
_ABOUT = (
    r"(?:about|regarding|concerning|titled|called|with\s+(?:the\s+)?subject(?:\s+line)?"
    r"|whose\s+subject\s+(?:line\s+)?is|(?:that|which)\s+(?:mentions|says|contains)"
    r"|mentioning|containing)\s+(?P<about>.+?)"
)
_WHICH = rf"{_ITEM}\s+(?:{_BY}|{_ABOUT})"
_IT = r"(?:it|this|that|them|this\s+one|that\s+one|(?:this|that)\s+(?:e-?mail|message|mail))"
_FORWARD = re.compile(rf"forward\s+{_WHICH}\s+to\s+(?P<to>.+)$", re.I)
_REPLY = re.compile(
    rf"(?:reply|respond|answer)\s+to\s+{_WHICH}\s+(?:with|saying)\s+"
    r"(?:the\s+)?(?:text|message|words?|reply)?\s*(?P<text>.+)$",
    re.I,
)
_STAR = re.compile(rf"(?:star|flag)\s+{_WHICH}$", re.I)
_MARK = re.compile(rf"mark\s+{_WHICH}\s+as\s+(?:important|starred|a\s+favou?rite)$", re.I)
_DELETE = re.compile(rf"(?:delete|trash|remove|discard|bin)\s+{_WHICH}$", re.I)
_OPEN = re.compile(rf"(?:open|locate|go\s+to|select)\s+{_WHICH}$", re.I)
_STAR_IT = re.compile(
    rf"(?:(?:star|flag)\s+{_IT}|mark\s+{_IT}\s+as\s+(?:important|starred|a\s+favou?rite))$",
    re.I,
)
_DELETE_IT = re.compile(rf"(?:delete|trash|remove|discard|bin)\s+{_IT}$", re.I)


def _located(m: re.Match[str], q: list[str]) -> Step:
    if m.group("who"):
        return Step(kind="locate_item", target=unq(m.group("who"), q), kind_hint="author")
    return Step(kind="locate_item", target=unq(m.group("about"), q), kind_hint="content")


def _stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS}


@reader("locate_item")
def locate_item(step: Step, ctx: Ctx) -> None:
    """The item named: an element that says every word of the
    name ("Kim" finds "Kim Aldous", "the invoice" finds "Invoice 4471 - Your invoice ..");
    an author is looked for at the start of an element's text first, where rows show it."""
    want = _stems(step.target)
    if not want:
        return
    saying = [e for e in ctx.view.elements if want <= _stems(e.text or e.name)]
    if step.kind_hint == "author":
        first = [e for e in saying if want <= _stems(" ".join((e.text or e.name).split()[:3]))]
        saying = first or saying
    # The most specific element (the sender's own cell rather than the whole row); of equal
    # ones, the first.
    best = min(saying, key=lambda e: len(e.text or e.name), default=None)
    ctx.anchor = best or ctx.anchor


def _send(what: Step) -> list[Step]:
    return [
        Step(kind="click", target="forward" if what.kind_hint == "to" else "reply"),
        what,
        Step(kind="click", target="send"),
    ]


@clause(14)
def inbox_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := _FORWARD.match(c):
        to = Step(kind="fill", value=unq(m.group("to"), q), kind_hint="to")
        return [_located(m, q), *_send(to)]
    if m := _REPLY.match(c):
        text = Step(kind="fill", value=unq(m.group("text"), q), kind_hint="message")
        return [_located(m, q), *_send(text)]
    if m := _STAR.match(c) or _MARK.match(c):
        return [_located(m, q), Step(kind="click", target="star")]
    if m := _DELETE.match(c):
        return [_located(m, q), Step(kind="click", target="trash")]
    if m := _OPEN.match(c):
        return [_located(m, q)]
    if _STAR_IT.match(c):
        return [Step(kind="click", target="star")]
    if _DELETE_IT.match(c):
        return [Step(kind="click", target="trash")]
    return None
