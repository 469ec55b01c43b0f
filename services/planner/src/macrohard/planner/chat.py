"""The hosted-LLM backend: any OpenAI-compatible chat-completions endpoint (Grok, ...).

The answer must be one JSON object matching `ChatAnswer` exactly (msgspec, unknown fields
forbidden) and name an element that is on the page. An invalid answer is sent back to the
model with the error and retried; after the last attempt the step fails with the reason.

A task with an output_schema asks for a strict response format (`response_format:
json_schema, strict: true`): the answer's schema, whose `data` is the task's schema in
strict form (strict.py), so the values the model reads with `extract` come back in the
shape the task's result must have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from macrohard.contracts.agent import ActionKind, Intent
from macrohard.planner.backends import DecisionRequest
from macrohard.planner.strict import answer_format, from_strict

SYSTEM_PROMPT = """You operate a web browser to reach the user's goal, one action per turn.
Answer with ONE JSON object and nothing else:
{"action": one of navigate|click|type|clear|select|check|uncheck|press|hover|scroll|back|
   right_click|hold|click_at|drag|select_text|set_value|extract|done|fail,
 "element": id of an element from the page list (for element actions),
 "text": text to type, the text to select (select_text), the number (set_value),
 "url": for navigate, "keys": for press ("Control+c", "Shift+ArrowDown"),
 "values": options for select, "target_element": where a drag drops,
 "x", "y": a point inside the element's box (click_at, drag without target), "hold_ms": for hold,
 "reason": a short why}
Answer "done" when the goal is reached, "fail" with a reason when it cannot be."""

EXTRACT_PROMPT = """
This task must end with data in a given shape. On the page that shows the data the goal asks
for, answer "extract" with "data": the values read from the page, in that shape (null for
every other action)."""


class ChatAnswer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    action: ActionKind
    element: int | None = None
    text: str | None = None
    url: str | None = None
    keys: str | None = None
    values: list[str] = []
    target_element: int | None = None
    x: int | None = None
    y: int | None = None
    hold_ms: int = 0
    reason: str = ""
    data: Any = None  # extract: the values read, shaped by the task's output_schema


class _Message(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    message: _Message


class _Completion(msgspec.Struct):
    choices: list[_Choice]


class InvalidAnswer(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ChatConfig:
    url: str  # base URL, e.g. https://api.x.ai/v1
    model: str
    api_key: str = ""
    attempts: int = 2
    timeout_s: float = 60.0


def render_page(request: DecisionRequest) -> str:
    obs = request.observation
    lines = [f"GOAL: {request.goal}", f"URL: {obs.url}", f"TITLE: {obs.title}", "ELEMENTS:"]
    for e in obs.elements:
        bits = [f"[{e.id}] {e.role}"]
        for key, val in (("name", e.name), ("text", e.text), ("value", e.value)):
            if val:
                bits.append(f"{key}={val[:80]!r}")
        if e.checked is not None:
            bits.append(f"checked={e.checked}")
        if e.options:
            bits.append(f"options={e.options[:20]}")
        if e.shape or e.color:
            bits.append(f"shape={e.shape} color={e.color}")
        if e.value_min is not None or e.value_max is not None:
            bits.append(f"range={e.value_min}..{e.value_max} step={e.value_step}")
        if e.box is not None:
            bits.append(f"box={e.box.x},{e.box.y},{e.box.w}x{e.box.h}")
        lines.append(" ".join(bits))
    lines.append("HISTORY:")
    for p in request.history:
        outcome = "ok" if p.ok is not False else f"FAILED {p.error}"
        lines.append(f"{p.step}: {p.intent.action} {p.label} {p.intent.text or ''} -> {outcome}")
    return "\n".join(lines)


def parse_answer(content: str, request: DecisionRequest) -> Intent:
    """Strictly read the model's answer; raises InvalidAnswer with what was wrong."""
    text = content.strip()
    if text.startswith("```"):  # a fenced block is still one JSON object
        text = text.strip("`").removeprefix("json").strip()
    try:
        answer = msgspec.json.decode(text, type=ChatAnswer)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidAnswer(str(exc)) from exc
    ids = {e.id for e in request.observation.elements}
    needs_element = answer.action in (
        "click",
        "type",
        "clear",
        "select",
        "check",
        "uncheck",
        "hover",
        "right_click",
        "hold",
        "select_text",
        "set_value",
        "drag",
    )
    if needs_element and answer.element not in ids:
        raise InvalidAnswer(
            f"element {answer.element} is not on the page (ids: {sorted(ids)[:50]})"
        )
    if answer.action == "navigate" and not answer.url:
        raise InvalidAnswer("navigate needs a url")
    fields = msgspec.structs.asdict(answer)
    if answer.action != "extract":
        fields["data"] = None  # only an extraction carries values
    elif request.output_schema is not None and answer.data is not None:
        fields["data"] = from_strict(answer.data, request.output_schema)
    return Intent(**fields)


class ChatBackend:
    name = "chat"

    def __init__(self, config: ChatConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = client or httpx.AsyncClient(timeout=config.timeout_s)

    async def next_intent(self, request: DecisionRequest) -> Intent:
        schema = request.output_schema
        system = SYSTEM_PROMPT + (EXTRACT_PROMPT if schema is not None else "")
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": render_page(request)},
        ]
        response_format = answer_format(schema) if schema is not None else None
        error = ""
        for _ in range(max(self.config.attempts, 1)):
            try:
                content = await self._complete(messages, response_format)
            except (httpx.HTTPError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                error = f"endpoint error: {type(exc).__name__}: {exc}"
                continue
            try:
                return parse_answer(content, request)
            except InvalidAnswer as exc:
                error = f"invalid answer: {exc}"
                messages.append({"role": "assistant", "content": content})
                messages.append(
                    {
                        "role": "user",
                        "content": f"That answer was invalid: {exc}. "
                        "Reply with only the JSON object.",
                    }
                )
        return Intent(
            action="fail",
            reason=f"chat model {self.config.model!r} gave no valid "
            f"answer after {self.config.attempts} attempts; last: {error}",
        )

    async def _complete(
        self, messages: list[dict[str, str]], response_format: dict[str, Any] | None = None
    ) -> str:
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        body: dict[str, Any] = {"model": self.config.model, "messages": messages, "temperature": 0}
        if response_format is not None:
            body["response_format"] = response_format
        resp = await self._http.post(
            self.config.url.rstrip("/") + "/chat/completions", json=body, headers=headers
        )
        resp.raise_for_status()
        completion = msgspec.json.decode(resp.content, type=_Completion)
        if not completion.choices:
            raise msgspec.ValidationError("no choices in the completion")
        return completion.choices[0].message.content or ""

    async def release(self, task_id: str) -> None:
        return None

    async def close(self) -> None:
        await self._http.aclose()
