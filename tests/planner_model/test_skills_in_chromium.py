"""The planner model driving a real Chromium on pages written for these tests (no benchmark
page): a shell, a menu with steppers, a rich-text editor. Each page's own script records
what it received in `#log`, so a test checks the page's account, not the model's.

The loop is the dev loop of `mh bench miniwob --path direct`: the actuator's own observer
and gestures on a bare page, the model deciding each step from the goal and the history.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from macrohard.contracts.agent import Intent
from macrohard.devkit.pages import LocalSite, fixed_pages
from tests.planner_model.driving import run_model

PAGES = Path(__file__).parent / "pages"


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    pages = {f"/{p.name}": p.read_text() for p in PAGES.glob("*.html")}
    with LocalSite(fixed_pages(pages)) as s:
        yield s


async def solve(browser: Any, url: str, goal: str, max_steps: int = 15) -> tuple[Intent, list[str]]:
    """Run the model on a fresh page until it says done or fail: (its last intent, the log)."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(url)
        intent, _ = await run_model(page, goal, max_steps)
        return intent, await page.locator("#log samp").all_text_contents()
    finally:
        await context.close()


@pytest.mark.parametrize(
    ("goal", "removed"),
    [
        ("Using the shell, remove the file whose extension is .sh", "run.sh"),
        ("Delete the file that has no extension from the console.", "README"),
        ("In the terminal, get rid of the .jpeg file", "photo.jpeg"),
        ('Use the command line to erase a file ending in "tar.gz"', "site.tar.gz"),
    ],
)
async def test_a_shell_lists_then_removes_the_file_the_goal_describes(
    browser: Any, site: LocalSite, goal: str, removed: str
) -> None:
    last, log = await solve(browser, site.url("/shell.html"), goal)
    assert last.action == "done", last
    assert log == ["got ls", f"got rm {removed}", f"removed {removed}"], log


async def test_a_shell_without_ls_is_listed_with_dir_and_a_named_command_is_run(
    browser: Any, site: LocalSite
) -> None:
    last, log = await solve(
        browser, site.url("/shell.html?os=win"), "Delete the file named notes.txt in the terminal"
    )
    assert last.action == "done", last
    assert log == ["got ls", "got dir", "got rm notes.txt", "removed notes.txt"], log
    last, log = await solve(
        browser, site.url("/shell.html"), "Run the command whoami in the terminal"
    )
    assert (last.action, log) == ("done", ["got whoami"]), (last, log)


@pytest.mark.parametrize(
    ("goal", "ordered"),
    [
        ("Buy two spicy dishes and then click Place order", "Chilli beef wrap x1, Jerk chicken x1"),
        ("Order 3 items that are vegan, then place the order.",
         "Tomato soup x1, Salt and pepper chips x1, Falafel bowl x1"),
        ("Order one of each item: Salt and pepper chips, Scone and Tea. Click Place order",
         "Salt and pepper chips x1, Tea x1, Scone x1"),
        ("Pick 4 gluten-free dishes and press Place order", "Tomato soup x2, Jerk chicken x2"),
    ],
)  # fmt: skip
async def test_orders_by_label_or_by_name_across_the_menu(
    browser: Any, site: LocalSite, goal: str, ordered: str
) -> None:
    last, log = await solve(browser, site.url("/menu.html"), goal)
    assert last.action == "done", last
    assert log == [f"order: {ordered}"], log


async def test_a_word_or_everything_is_coloured_through_the_palette(
    browser: Any, site: LocalSite
) -> None:
    last, log = await solve(
        browser,
        site.url("/editor.html"),
        "In the editor, colour the word harbour red, then click Save.",
    )
    assert last.action == "done", last
    assert log[0] == "saved harbour rgb(211, 47, 47)", log
    last, log = await solve(
        browser, site.url("/editor.html"), "Make everything the color blue and click Save"
    )
    assert last.action == "done", last
    assert log[0] == "saved The harbour lights glow softly tonight rgb(25, 118, 210)", log


@pytest.mark.parametrize(
    ("goal", "logged"),
    [
        ("Forward the message from Ravi to Dana Lee.", "forwarded Lunch on Friday? to Dana Lee"),
        ("Reply to the mail about the invoice with \"Paid today\"",
         "replied to Ola Berg: Paid today"),
        ("Mark the email whose subject is Budget for May as important", "starred Kim Aldous"),
        ("Delete the message that mentions lunch", "deleted Ravi Shah"),
        ("Open the email sent by Ola, then forward it to Kim", "forwarded Invoice 4471 to Kim"),
    ],
)  # fmt: skip
async def test_an_inbox_item_is_found_by_author_subject_or_content(
    browser: Any, site: LocalSite, goal: str, logged: str
) -> None:
    last, log = await solve(browser, site.url("/inbox.html"), goal)
    assert last.action == "done", last
    assert log == [logged], log
