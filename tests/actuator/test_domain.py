"""The actuator's pure decisions: URL safety, intents, secrets, observation size, delivery."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from macrohard.actuator.domain import (
    REDACTED,
    InvalidIntent,
    MissingSecret,
    ObservationLimits,
    address_refusal,
    check_resolved,
    check_url,
    compact_elements,
    fill_secrets,
    host_in_allowlist,
    parse_keys,
    scrub,
    secret_names,
    validate_intent,
)
from macrohard.actuator.proxy import _split_host_port
from macrohard.contracts.agent import ActionKind, Intent

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


def test_unknown_tenant_allows_nothing_and_an_empty_list_sets_no_domain_limit() -> None:
    assert not host_in_allowlist("example.com", [])
    unknown = check_url("https://example.com/", None, local_test_mode=True)
    assert not unknown.allowed and "unknown" in unknown.reason
    # Empty list: any public host (the gateway's meaning), never an internal address.
    assert check_url("https://example.com/", [], local_test_mode=False).allowed
    assert not check_url("http://10.0.0.1/", [], local_test_mode=False).allowed
    assert not check_url("http://127.0.0.1/", [], local_test_mode=False).allowed


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
        # WHATWG (and so Chromium) reads "http:///nohost" as host "nohost".
        ("http:///nohost", False, "not in the tenant's allowed domains"),
        ("http://", False, "malformed URL"),
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
    assert verdict.allowed == (not allowed or host_in_allowlist(host, allowed))
    if verdict.allowed and allowed:
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
    Intent(action="drag", element=1, target_element=2, x=3, y=4),
    Intent(action="drag", element=1, x=300, y=200),
    Intent(action="right_click", element=1),
    Intent(action="hold", element=1, hold_ms=1500),
    Intent(action="click_at", element=1, x=0, y=10),
    Intent(action="click_at", x=640, y=400),
    Intent(action="select_text", element=1, text="quick brown"),
    Intent(action="select_text", element=1),
    Intent(action="set_value", element=1, text="-12.5"),
    Intent(action="set_value", element=1, target_element=2, text="1,000"),
    Intent(action="click_when", element=1, target_element=2, text="< 53.1", wait_ms=10_000),
    Intent(action="click_when", element=1, target_element=2, text=">=-2", wait_ms=1),
    Intent(action="wait_for", text="Done"),
    Intent(action="wait_for"),
    Intent(action="upload", element=7, values=["report 2024.pdf"]),
    Intent(action="back"),
    Intent(action="click_at", element=3, x=1, y=1, repeat_ms=8000),
    Intent(action="extract"),
    Intent(action="done"),
    Intent(action="fail", reason="cannot"),
]

INVALID: list[tuple[Intent, str]] = [
    (Intent(action="navigate"), "needs a url"),
    (Intent(action="click"), "needs an element"),
    (Intent(action="click", element=0), "start at 1"),
    (Intent(action="drag", element=1, x=5, y=5, grip_x=3), "both grip_x and grip_y"),
    (Intent(action="click", element=1, grip_x=3, grip_y=3), "only for drag"),
    (Intent(action="drag", element=1, x=5, y=5, grip_x=-1, grip_y=3), "grip point must lie"),
    (Intent(action="type", element=1), "needs text"),
    (Intent(action="type", element=1, text="x" * 10_001), "longer than"),
    (Intent(action="select", element=1), "needs values"),
    (Intent(action="press"), "needs keys"),
    (Intent(action="press", keys="Hyper+a"), "unknown modifier"),
    (Intent(action="press", keys="Control+Nope"), "unknown key"),
    (Intent(action="press", keys="Control+"), "malformed"),
    (Intent(action="drag", element=1), "target_element or a point"),
    (Intent(action="upload", element=1), "file names"),
    (Intent(action="upload", element=1, values=["../etc/passwd"]), "plain file name"),
    (Intent(action="upload", element=1, values=["/abs/path"]), "plain file name"),
    (Intent(action="upload", element=1, values=["a..b"]), "plain file name"),
    (Intent(action="scroll"), "element or dx/dy"),
    (Intent(action="drag", element=1, x=3), "both x and y"),
    (Intent(action="click_at", element=1), "needs a point"),
    (Intent(action="click_at", x=-1, y=3), "within 0"),
    (Intent(action="click_at", x=1, y=30_000), "within 0"),
    (Intent(action="right_click"), "needs an element"),
    (Intent(action="hold", element=1), "hold_ms between"),
    (Intent(action="hold", element=1, hold_ms=60_000), "hold_ms between"),
    (Intent(action="click", element=1, hold_ms=100), "only for hold"),
    (Intent(action="select_text", element=1, text="  "), "text to select"),
    (Intent(action="select_text", element=1, text="x" * 2001), "at most"),
    (Intent(action="set_value", element=1, text="ten"), "needs a number"),
    (Intent(action="set_value", element=1, text="1e400"), "needs a number"),
    (Intent(action="click", element=1, repeat_ms=500), "only for click_at"),
    (Intent(action="click_at", x=3, y=3, repeat_ms=500), "only for click_at on an element"),
    (Intent(action="click_at", element=1, x=3, y=3, repeat_ms=60_000), "repeat_ms must be"),
    (Intent(action="click_when", target_element=2, text="< 1", wait_ms=9), "needs an element"),
    (Intent(action="click_when", element=1, text="< 1", wait_ms=9), "shows the value"),
    (Intent(action="click_when", element=1, target_element=2, text="cheap", wait_ms=9), "like"),
    (Intent(action="click_when", element=1, target_element=2, text="< x", wait_ms=9), "like"),
    (Intent(action="click_when", element=1, target_element=2, text="< 1"), "needs wait_ms"),
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
    # No plaintext survives outside the markers (the marker itself may contain its letters).
    segments = scrub(before + secret + after + secret, [secret]).split(REDACTED)
    assert not any(secret in segment for segment in segments)


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


def test_compaction_keeps_the_page_order_of_moved_elements() -> None:
    # Ids are stamped when first seen: items a drag reordered keep their older ids.
    kept, _ = compact_elements([raw(3), raw(1), raw(2)], ObservationLimits())
    assert [e.id for e in kept] == [3, 1, 2]


def test_compaction_passes_bounds_shapes_and_styles_and_drops_malformed_ones() -> None:
    seen = {
        **raw(1),
        "value_min": -10,
        "value_max": 40.5,
        "value_step": float("nan"),
        "shape": "circle",
        "color": "#ff0000",
        "styles": ["bold", "color:#00ff00"],
    }
    seen["point"] = [12, 30.4]
    bad = {**raw(2), "value_min": "3", "value_max": True, "color": "red; x", "point": [1, "2"]}
    kept, _ = compact_elements([seen, bad], ObservationLimits())
    assert (kept[0].point, kept[1].point) == ((12, 30), None)
    assert (kept[0].value_min, kept[0].value_max, kept[0].value_step) == (-10, 40.5, None)
    assert (kept[0].shape, kept[0].color, kept[0].styles) == ("circle", "#ff0000", seen["styles"])
    assert (kept[1].value_min, kept[1].value_max, kept[1].color) == (None, None, "")


def test_compaction_scrubs_secrets() -> None:
    element = {**raw(1), "value": "pw=hunter2", "name": "hunter2"}
    kept, _ = compact_elements([element], ObservationLimits(), ["hunter2"])
    assert kept[0].value == f"pw={REDACTED}" and kept[0].name == REDACTED


def test_a_long_value_keeps_its_end_scrubbed_and_clipped_from_the_front() -> None:
    # The observer reads the end with the secrets' margin: "hunter2" straddles the cut.
    end = "hunter2" + "z" * 14 + " last"
    element = {**raw(1), "value": "start", "value_end": end}
    kept, _ = compact_elements([element], ObservationLimits(max_text=20), ["hunter2"])
    assert kept[0].value_end == "…" + "z" * 14 + " last"
    assert "hunter" not in kept[0].value_end and len(kept[0].value_end) == 20
    short, _ = compact_elements([{**raw(2), "value_end": "tail only"}], ObservationLimits())
    assert short[0].value_end == "tail only"


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
    # Document order is the order the observer listed them in, whatever their ids.
    assert ids == [r["id"] for r in elements if r["id"] in set(ids)]
    assert len(set(ids)) == len(ids) and set(ids) <= {r["id"] for r in elements}
    assert all(len(e.text) <= text and len(e.name) <= text for e in kept)
    visible_interactive = [r["id"] for r in elements if r["visible"] and r["interactive"]]
    if len(visible_interactive) <= cap:
        assert set(visible_interactive) <= set(ids)
    assert not any(r["id"] in ids for r in elements if not r["visible"] and not r["interactive"])


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
