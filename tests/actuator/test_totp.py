"""Two-factor codes: RFC 6238 exactly, and `{{totp:NAME}}` typed into a real page unlogged."""

from __future__ import annotations

import pytest

from macrohard.actuator.totp import (
    InvalidTotpSeed,
    MissingTotpSeed,
    decode_seed,
    fill_totp,
    totp_code,
    totp_names,
)
from macrohard.contracts.agent import Intent
from tests.actuator.conftest import Running, element
from tests.actuator.site import TOTP_SEED, Site

RFC_KEY = b"12345678901234567890"


@pytest.mark.parametrize(
    ("at", "code"),
    [  # RFC 6238 appendix B, SHA-1, 8 digits
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc_6238_vectors(at: int, code: str) -> None:
    assert totp_code(RFC_KEY, at, digits=8) == code


def test_the_six_digit_code_is_the_last_six_of_the_rfc_vector() -> None:
    assert totp_code(RFC_KEY, 59) == "287082"
    # The same 30-second window gives the same code; the next window another.
    assert totp_code(RFC_KEY, 30) == totp_code(RFC_KEY, 59) != totp_code(RFC_KEY, 60)


def test_seeds_as_apps_show_them_decode() -> None:
    assert decode_seed(TOTP_SEED) == RFC_KEY
    assert decode_seed("gezd gnbv gy3t qojq gezd gnbv gy3t qojq") == RFC_KEY
    with pytest.raises(InvalidTotpSeed):
        decode_seed("not base32 at all!")


def test_fill_replaces_placeholders_and_returns_the_codes() -> None:
    text, codes = fill_totp("code {{totp:crm}}", {"crm": TOTP_SEED}, 59)
    assert text == "code 287082" and codes == ["287082"]
    assert totp_names("{{totp:a}} {{secret:b}} {{totp:c-d}}") == ["a", "c-d"]
    with pytest.raises(MissingTotpSeed):
        fill_totp("{{totp:other}}", {"crm": TOTP_SEED}, 59)


async def test_a_sealed_seed_becomes_the_current_code_at_typing_and_never_the_log(
    running: Running, site: Site
) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-totp", site.url("/totp"), totp={"crm": TOTP_SEED})
    _, first = await running.step("t-totp", 1, Intent(action="navigate", url=site.url("/totp")))
    done, typed = await running.step(
        "t-totp", 2, Intent(action="type", element=element(first, "Code"), text="{{totp:crm}}")
    )
    assert done is not None and done.ok, done
    # The typed code is in the field, and scrubbed from what the log records of it.
    code_field = next(e for e in typed.observation.elements if e.name == "Code")
    assert code_field.value == "[secret]"
    _, checked = await running.step(
        "t-totp", 3, Intent(action="click", element=element(first, "Verify"))
    )
    # The site checks the code against the seed on its own: the actuator typed a valid one.
    assert checked.observation.title == "Code accepted"

    done, _ = await running.step("t-totp", 4, Intent(action="navigate", url=site.url("/totp")))
    done, _ = await running.step(
        "t-totp", 5, Intent(action="type", element=element(first, "Code"), text="{{totp:nope}}")
    )
    assert done is not None and not done.ok and done.blocked and "nope" in done.error

    head = await running.store.stream_head()
    for seq in range(1, head + 1):
        text = running.store.registry.encode((await running.store.read_sequence(seq)).envelope)
        assert TOTP_SEED.encode() not in text and b"GEZDGNBV" not in text
