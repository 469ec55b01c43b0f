"""The actuator's pure decisions: URL safety, intents, secrets, observation size, delivery."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from macrohard.actuator.domain import (
    REDACTED,
    BrowserSession,
    Delivery,
    InvalidIntent,
    MissingSecret,
    ObservationLimits,
    address_refusal,
    check_resolved,
    check_url,
    compact_elements,
    evolve,
    fill_secrets,
    host_in_allowlist,
    parse_keys,
    plan_delivery,
    scrub,
    secret_names,
    validate_intent,
)
from macrohard.actuator.proxy import _split_host_port
from macrohard.contracts.agent import ActionKind, Intent
from macrohard.contracts.browser import (
    ActionExecuted,
    PageElement,
    PageObservation,
    PageObserved,
    SessionClosed,
    SessionOpened,
)
from macrohard.contracts.envelope import Envelope, Event

ALLOWED = ["example.com", "*.shop.test"]

# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("fc00::5", "private"),
        ("100.64.0.1", "carrier-grade"),
        ("100.100.100.200", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.1.1", "private"),
        ("2002:a00:1::", "private"),  # 6to4 wrapping 10.0.0.1
        ("240.0.0.1", "reserved"),
        ("not-an-ip", "not an IP"),
    ],
)
def test_internal_addresses_are_refused(address: str, fragment: str) -> None:
    assert fragment in address_refusal(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(address) == ""


@given(st.ip_addresses())
def test_an_address_passes_only_when_it_is_global(ip: ipaddress._BaseAddress) -> None:
    if address_refusal(str(ip)) == "":
        assert ip.is_global and not ip.is_multicast


# --------------------------------------------------------------------------- allowlist and URLs


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("example.com", True),
        ("www.example.com", True),
        ("EXAMPLE.com.", True),
        ("badexample.com", False),
        ("example.com.evil.net", False),
        ("shop.test", False),  # "*." means subdomains only
        ("a.shop.test", True),
        ("other.org", False),
    ],
)
def test_allowlist_matches_domains_and_subdomains(host: str, allowed: bool) -> None:
    assert host_in_allowlist(host, ALLOWED) is allowed


def test_empty_allowlist_allows_nothing() -> None:
    assert not host_in_allowlist("example.com", [])
    assert not check_url("https://example.com/", [], local_test_mode=True).allowed


@pytest.mark.parametrize(
    ("url", "local", "reason"),
    [
        ("https://example.com/a?b=1", False, ""),
        ("https://www.example.com/", False, ""),
        ("data:text/html,hi", False, ""),
        ("about:blank", False, ""),
        ("blob:https://example.com/1", False, ""),
        ("wss://example.com/socket", False, ""),
        ("file:///etc/passwd", False, "scheme file"),
        ("file:///etc/passwd", True, "scheme file"),
        ("ftp://example.com/", False, "scheme ftp"),
        ("chrome://settings", False, "scheme chrome"),
        ("javascript:alert(1)", False, "scheme javascript"),
        ("https://user:pw@example.com/", False, "credentials"),
        ("https://other.org/", False, "not in the tenant's allowed domains"),
        ("http://127.0.0.1:8080/", False, "loopback"),
        ("http://127.0.0.1:8080/", True, "not in the tenant's allowed domains"),
        ("http://169.254.169.254/latest/", True, "metadata"),
        ("http://10.0.0.1/", True, "private"),
        ("http://[::1]/", False, "loopback"),
        ("http://metadata.google.internal/", True, "metadata host"),
        ("http:///nohost", False, "no host"),
        ("http://[oops/", False, "malformed"),
    ],
)
def test_check_url(url: str, local: bool, reason: str) -> None:
    verdict = check_url(url, ALLOWED, local_test_mode=local)
    assert verdict.allowed is (reason == "")
    assert reason in verdict.reason


def test_local_test_mode_exempts_loopback_only() -> None:
    assert check_url("http://127.0.0.1:1/", ["127.0.0.1"], local_test_mode=True).allowed
    assert not check_url("http://127.0.0.1:1/", ["127.0.0.1"], local_test_mode=False).allowed
    assert check_resolved("localhost", ["127.0.0.1", "::1"], local_test_mode=True).allowed
    refused = check_resolved("rebind.test", ["127.0.0.1", "10.0.0.1"], local_test_mode=True)
    assert not refused.allowed and "private" in refused.reason


def test_every_resolved_address_must_be_public() -> None:
    assert check_resolved("example.com", ["93.184.216.34"], local_test_mode=False).allowed
    mixed = check_resolved("example.com", ["93.184.216.34", "10.0.0.1"], local_test_mode=False)
    assert not mixed.allowed and "resolves to private" in mixed.reason
    assert "does not resolve" in check_resolved("x", [], local_test_mode=False).reason


hosts = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){0,3}", fullmatch=True)


@given(hosts, st.lists(hosts, max_size=4))
def test_allowed_urls_are_on_allowed_hosts(host: str, allowed: list[str]) -> None:
    verdict = check_url(f"https://{host}/path", allowed, local_test_mode=False)
    assert verdict.allowed == host_in_allowlist(host, allowed)
    if verdict.allowed:
        assert any(host == d or host.endswith("." + d) for d in allowed)


# --------------------------------------------------------------------------- intents

VALID: list[Intent] = [
    Intent(action="navigate", url="https://example.com"),
    Intent(action="click", element=1),
    Intent(action="type", element=2, text=""),
    Intent(action="clear", element=2),
    Intent(action="select", element=3, values=["Red"]),
    Intent(action="check", element=4),
    Intent(action="uncheck", element=4),
    Intent(action="press", keys="Enter"),
    Intent(action="press", element=2, keys="Control+a Backspace Shift+Tab"),
    Intent(action="press", keys="+ a ControlOrMeta+Shift+z F5"),
    Intent(action="hover", element=5),
    Intent(action="scroll", dy=400),
    Intent(action="scroll", element=6),
    Intent(action="drag", element=1, target_element=2),
    Intent(action="wait_for", text="Done"),
    Intent(action="wait_for"),
    Intent(action="upload", element=7, values=["report 2024.pdf"]),
    Intent(action="back"),
    Intent(action="done"),
    Intent(action="fail", reason="cannot"),
]

INVALID: list[tuple[Intent, str]] = [
    (Intent(action="navigate"), "needs a url"),
    (Intent(action="click"), "needs an element"),
    (Intent(action="click", element=0), "start at 1"),
    (Intent(action="type", element=1), "needs text"),
    (Intent(action="type", element=1, text="x" * 10_001), "longer than"),
    (Intent(action="select", element=1), "needs values"),
    (Intent(action="press"), "needs keys"),
    (Intent(action="press", keys="Hyper+a"), "unknown modifier"),
    (Intent(action="press", keys="Control+Nope"), "unknown key"),
    (Intent(action="press", keys="Control+"), "malformed"),
    (Intent(action="drag", element=1), "target_element"),
    (Intent(action="upload", element=1), "file names"),
    (Intent(action="upload", element=1, values=["../etc/passwd"]), "plain file name"),
    (Intent(action="upload", element=1, values=["/abs/path"]), "plain file name"),
    (Intent(action="upload", element=1, values=["a..b"]), "plain file name"),
    (Intent(action="scroll"), "element or dx/dy"),
]


@pytest.mark.parametrize("intent", VALID, ids=lambda i: i.action)
def test_valid_intents_pass(intent: Intent) -> None:
    validate_intent(intent)


@pytest.mark.parametrize(("intent", "reason"), INVALID, ids=lambda x: getattr(x, "action", x))
def test_invalid_intents_are_refused(intent: Intent, reason: str) -> None:
    with pytest.raises(InvalidIntent, match=reason):
        validate_intent(intent)


def test_every_action_kind_has_a_valid_example() -> None:
    assert {i.action for i in VALID} == set(ActionKind.__args__)  # type: ignore[attr-defined]


def test_parse_keys_splits_chords() -> None:
    assert parse_keys("Control+a  Enter") == ["Control+a", "Enter"]


# --------------------------------------------------------------------------- secrets


def test_secrets_are_filled_and_scrubbed() -> None:
    text = "user {{secret:user}} pw {{secret:pw}}"
    assert secret_names(text) == ["user", "pw"]
    filled = fill_secrets(text, {"user": "ada", "pw": "s3cret"})
    assert filled == "user ada pw s3cret"
    assert scrub("typed s3cret into ada's box", ["s3cret", "ada", ""]) == (
        f"typed {REDACTED} into {REDACTED}'s box"
    )
    with pytest.raises(MissingSecret):
        fill_secrets("{{secret:other}}", {"pw": "x"})
    assert secret_names("no {{secret:bad name}} here") == []


@given(st.text(min_size=1, max_size=20), st.text(max_size=60), st.text(max_size=60))
def test_scrub_removes_every_occurrence(secret: str, before: str, after: str) -> None:
    assert secret not in scrub(before + secret + after + secret, [secret])


# --------------------------------------------------------------------------- observations


def raw(
    i: int, *, visible: bool = True, interactive: bool = True, in_viewport: bool = True
) -> dict[str, object]:
    return {
        "id": i,
        "role": "button" if interactive else "text",
        "name": f"el {i}",
        "text": "x" * 300,
        "visible": visible,
        "interactive": interactive,
        "in_viewport": in_viewport,
        "box": [1.4, 2.6, 10, 10] if visible else None,
        "options": [str(n) for n in range(40)],
        "value": "v",
    }


def test_compaction_prefers_visible_interactive_elements_and_keeps_document_order() -> None:
    elements = [
        raw(1, visible=False, interactive=False),  # hidden text: always dropped
        raw(2, interactive=False, in_viewport=False),
        raw(3, visible=False),
        raw(4, in_viewport=False),
        raw(5),
        raw(6, interactive=False),
    ]
    limits = ObservationLimits(max_elements=3, max_text=20, max_options=5)
    kept, omitted = compact_elements(elements, limits)
    assert [e.id for e in kept] == [4, 5, 6]
    assert omitted == 3
    assert all(len(e.text) <= 20 and len(e.options) == 5 for e in kept)
    assert kept[0].box is not None and (kept[0].box.x, kept[0].box.y) == (1, 3)


def test_compaction_scrubs_secrets() -> None:
    element = {**raw(1), "value": "pw=hunter2", "name": "hunter2"}
    kept, _ = compact_elements([element], ObservationLimits(), ["hunter2"])
    assert kept[0].value == f"pw={REDACTED}" and kept[0].name == REDACTED


raw_elements = st.lists(
    st.builds(
        raw,
        st.integers(1, 10_000),
        visible=st.booleans(),
        interactive=st.booleans(),
        in_viewport=st.booleans(),
    ),
    max_size=60,
    unique_by=lambda r: r["id"],
)


@given(raw_elements, st.integers(0, 30), st.integers(1, 50))
def test_compaction_properties(elements: list[dict[str, object]], cap: int, text: int) -> None:
    kept, omitted = compact_elements(elements, ObservationLimits(max_elements=cap, max_text=text))
    ids = [e.id for e in kept]
    assert len(kept) <= cap and omitted == len(elements) - len(kept)
    assert ids == sorted(set(ids)) and set(ids) <= {r["id"] for r in elements}
    assert all(len(e.text) <= text and len(e.name) <= text for e in kept)
    visible_interactive = [r["id"] for r in elements if r["visible"] and r["interactive"]]
    if len(visible_interactive) <= cap:
        assert set(visible_interactive) <= set(ids)
    assert not any(r["id"] in ids for r in elements if not r["visible"] and not r["interactive"])


# --------------------------------------------------------------------------- the session


def env(event: Event, event_id: str = "e") -> Envelope:
    return Envelope(
        id=event_id,
        type=type(event).__name__,
        schema_version=1,
        tenant="t",
        aggregate_type="browser",
        aggregate_id="task",
        occurred_at=datetime.now(UTC),
        correlation_id="c",
        payload=event,
    )


def observed(intent: str, url: str, ids: list[int]) -> Envelope:
    elements = [PageElement(id=i, role="button", name=f"b{i}") for i in ids]
    return env(
        PageObserved(
            task_id="task",
            step=1,
            intent_event_id=intent,
            observation=PageObservation(url=url, title="", elements=elements),
        )
    )


def executed(intent: str) -> Envelope:
    return env(
        ActionExecuted(task_id="task", step=1, intent_event_id=intent, action="click", ok=True)
    )


def fold(*events: Envelope) -> BrowserSession:
    state = BrowserSession()
    for e in events:
        state = evolve(state, e)
    return state


def test_session_fold_remembers_elements_of_the_current_document() -> None:
    state = fold(
        env(SessionOpened(task_id="task", worker="w1")),
        executed("i1"),
        observed("i1", "https://a/1", [1, 2]),
        executed("i2"),
        observed("i2", "https://a/1", [2, 3]),
    )
    assert state.open and state.worker == "w1" and state.last_url == "https://a/1"
    assert set(state.seen) == {1, 2, 3} and state.executed == {"i1", "i2"}
    moved = evolve(state, observed("i3", "https://a/2", [1]))
    assert set(moved.seen) == {1} and moved.last_url == "https://a/2"
    closed = evolve(moved, env(SessionClosed(task_id="task")))
    assert not closed.open


def test_takeover_reopens_at_the_last_url() -> None:
    state = fold(
        env(SessionOpened(task_id="task", worker="w1")),
        observed("i1", "https://a/1", [1]),
        env(SessionOpened(task_id="task", worker="w2", restored_from="w1", url="https://a/1")),
    )
    assert state.worker == "w2" and state.last_url == "https://a/1"


OPEN_W1 = fold(env(SessionOpened(task_id="task", worker="w1")))


@pytest.mark.parametrize(
    ("state", "worker", "has_context", "unreachable", "expected"),
    [
        (BrowserSession(), "w1", False, False, Delivery.EXECUTE),
        (OPEN_W1, "w1", True, False, Delivery.EXECUTE),
        (OPEN_W1, "w1", False, False, Delivery.TAKE_OVER),  # restarted under the same id
        (OPEN_W1, "w2", False, False, Delivery.FORWARD),
        (OPEN_W1, "w2", False, True, Delivery.TAKE_OVER),
        (fold(env(SessionOpened(task_id="task", worker="w1")), executed("i")), "w1", True, False,
         Delivery.OBSERVE),
        (fold(env(SessionOpened(task_id="task", worker="w1")), executed("i")), "w2", False, False,
         Delivery.FORWARD),
        (fold(env(SessionOpened(task_id="task", worker="w1")), executed("i")), "w2", False, True,
         Delivery.TAKE_OVER),
        (fold(executed("i"), observed("i", "u", [])), "w1", True, False, Delivery.SKIP),
        (fold(executed("i"), observed("i", "u", [])), "w9", False, True, Delivery.SKIP),
        (fold(env(SessionOpened(task_id="task", worker="w1")), env(SessionClosed(task_id="task"))),
         "w2", False, False, Delivery.EXECUTE),
    ],
)  # fmt: skip
def test_plan_delivery(
    state: BrowserSession, worker: str, has_context: bool, unreachable: bool, expected: Delivery
) -> None:
    got = plan_delivery(
        state, "i", worker=worker, has_context=has_context, holder_unreachable=unreachable
    )
    assert got is expected


@given(st.sampled_from(["w1", "w2"]), st.booleans(), st.booleans())
def test_an_executed_and_observed_intent_is_never_repeated(
    worker: str, has_context: bool, unreachable: bool
) -> None:
    state = fold(executed("i"), observed("i", "u", [1]))
    decision = plan_delivery(
        state, "i", worker=worker, has_context=has_context, holder_unreachable=unreachable
    )
    assert decision is Delivery.SKIP


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("example.com:443", ("example.com", 443)),
        ("example.com", ("example.com", 443)),
        ("[::1]:8443", ("::1", 8443)),
        ("[fe80::1]", ("fe80::1", 443)),
    ],
)
def test_proxy_reads_connect_authorities(authority: str, expected: tuple[str, int]) -> None:
    assert _split_host_port(authority, 443) == expected
