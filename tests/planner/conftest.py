"""Peers the planner tests talk to: a scripted chat-completions server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from macrohard.devkit.pages import LocalSite, PageReply, PageRequest


@dataclass
class ScriptedModel:
    answers: list[str | int]  # content strings, or an HTTP status to fail with
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def chat_server() -> Iterator[ScriptedModel]:
    model = ScriptedModel(answers=[])

    def answer(request: PageRequest) -> PageReply:
        body = json.loads(request.body)
        model.requests.append(
            {"path": request.path, "auth": request.headers.get("Authorization"), **body}
        )
        answer = model.answers.pop(0) if model.answers else "{}"
        if isinstance(answer, int):
            return PageReply(status=answer)
        completion = {
            "id": "c1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
        }
        return PageReply(body=json.dumps(completion), content_type="application/json")

    with LocalSite(answer) as site:
        model.url = site.url("/v1")
        yield model
