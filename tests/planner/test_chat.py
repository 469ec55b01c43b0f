"""The OpenAI-compatible backend against a local HTTP server speaking chat completions.

The server is a test peer (a scripted remote model), not a stand-in for our code: the
backend's real HTTP client, request shape and strict parsing are exercised end to end.
"""

from __future__ import annotations

from typing import Any

from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.planner.backends import DecisionRequest
from macrohard.planner.chat import ChatBackend, ChatConfig
from tests.planner.conftest import ScriptedModel

REQUEST = DecisionRequest(
    tenant="acme",
    task_id="t1",
    step=1,
    goal="Click OK",
    observation=PageObservation(
        url="http://x.test/",
        title="t",
        elements=[
            PageElement(id=3, role="button", name="OK"),
            PageElement(id=4, role="link", name="Help"),
        ],
    ),
    history=[],
)


async def ask(model: ScriptedModel, attempts: int = 2) -> Any:
    backend = ChatBackend(
        ChatConfig(url=model.url, model="grok-test", api_key="k1", attempts=attempts)
    )
    try:
        return await backend.next_intent(REQUEST)
    finally:
        await backend.close()


async def test_malformed_answer_is_retried_with_the_error_then_accepted(
    chat_server: ScriptedModel,
) -> None:
    chat_server.answers = [
        "Sure! I will click OK.",
        '{"action": "click", "element": 3, "reason": "OK"}',
    ]
    intent = await ask(chat_server)
    assert (intent.action, intent.element) == ("click", 3)
    first, second = chat_server.requests
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer k1"
    assert (
        first["model"] == "grok-test" and "[3] button name='OK'" in first["messages"][1]["content"]
    )
    # The retry carries the bad answer and what was wrong with it.
    assert second["messages"][2] == {"role": "assistant", "content": "Sure! I will click OK."}
    assert "invalid" in second["messages"][3]["content"]


async def test_unknown_fields_and_elements_not_on_the_page_are_invalid(
    chat_server: ScriptedModel,
) -> None:
    chat_server.answers = [
        '{"action": "click", "element": 3, "confidence": 0.9}',
        '{"action": "click", "element": 99}',
    ]
    intent = await ask(chat_server)
    assert intent.action == "fail"
    assert "no valid answer after 2 attempts" in intent.reason and "element 99" in intent.reason
    assert len(chat_server.requests) == 2


async def test_endpoint_errors_fail_the_step_with_a_reason(chat_server: ScriptedModel) -> None:
    chat_server.answers = [500, 503]
    intent = await ask(chat_server)
    assert intent.action == "fail" and "endpoint error" in intent.reason


async def test_fenced_json_is_accepted(chat_server: ScriptedModel) -> None:
    chat_server.answers = ['```json\n{"action": "done", "reason": "goal reached"}\n```']
    intent = await ask(chat_server, attempts=1)
    assert (intent.action, intent.reason) == ("done", "goal reached")
