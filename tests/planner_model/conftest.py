"""Shared fixtures for the planner model's tests in a real Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from macrohard.actuator.public import CHROMIUM_ARGS, chromium_path


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium with the actuator's arguments, one per test module."""
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        await b.close()
