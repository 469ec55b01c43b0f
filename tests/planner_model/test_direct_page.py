"""The direct path's page (the dev loop of `mh bench miniwob --path direct`) in a real
Chromium: it observes only once the page's requests in flight are done, as the actuator's
observer does, so an icon a stylesheet draws from a picture still loading is not missed."""

from __future__ import annotations

import time

from playwright.async_api import Browser

from macrohard.bench.miniwob_episode import DirectPage
from macrohard.contracts.agent import Intent
from macrohard.devkit.pages import LocalSite, PageReply, PageRequest

# 1x1 transparent GIF: the star's picture.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)

# The row and its star are made by a script after the page loaded (as a list a page renders
# itself); the star has no size until its picture, served late, has arrived.
PAGE = """<!doctype html><html><head><style>
.star { content: url(/star.gif); height: 16px; }
</style></head><body><div id="list"></div><div id="log"></div><script>
window.addEventListener('load', function () { setTimeout(function () {
  var row = document.createElement('div');
  row.innerHTML = '<span>Ola Berg</span> <span class="star" title="star"></span>';
  row.querySelector('.star').onclick = function () {
    var s = document.createElement('samp'); s.textContent = 'starred';
    document.getElementById('log').appendChild(s);
  };
  document.getElementById('list').appendChild(row);
}, 0); });
</script></body></html>"""


def route(request: PageRequest) -> PageReply | None:
    if request.path == "/star.gif":
        time.sleep(0.6)  # a picture that is slow to arrive
        return PageReply(body=GIF, content_type="image/gif")
    return PageReply(body=PAGE) if request.path == "/inbox.html" else None


async def test_an_icon_whose_picture_is_still_loading_is_observed_once_it_arrived(
    browser: Browser,
) -> None:
    with LocalSite(route) as site:
        context = await browser.new_context()
        try:
            page = await context.new_page()
            direct = DirectPage(page)  # before the page opens, as the bench makes it
            await page.goto(site.url("/inbox.html"))
            await page.wait_for_function("document.querySelector('.star') !== null")
            seen = await direct.observe()
            stars = [e for e in seen.elements if e.name == "star"]
            # Seen with its size: drawn, where a click lands (before its picture, it has none).
            assert len(stars) == 1 and stars[0].box is not None, seen.elements
            ok, error = await direct.act(Intent(action="click", element=stars[0].id))
            assert ok, error
            assert await page.locator("#log samp").all_text_contents() == ["starred"]
        finally:
            await context.close()
