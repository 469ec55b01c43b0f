"""`click_when` in a real Chromium, through the actuator: a price that moves every 100 ms
is watched inside the page and the button pressed while the price meets the condition; a
condition never met clicks nothing. The page's own script records the price each press met."""

from __future__ import annotations

from urllib.parse import quote

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageObserved
from tests.actuator.conftest import Running, element
from tests.actuator.site import Site

# Under 50 for two ticks of twelve (200 ms of every 1.2 s).
TICKER = """<!doctype html><html><body>
<label>Price:</label> <span id="price" title="price"></span> <button id="buy">Buy</button>
<div id="log"></div><script>
var prices = [55, 54, 53, 52, 51, 50.5, 49.5, 49, 50.5, 52, 53, 54], i = 0;
function show() { document.getElementById('price').textContent = '$' + prices[i].toFixed(2); }
show(); setInterval(function () { i = (i + 1) % prices.length; show(); }, 100);
document.getElementById('buy').onclick = function () {
  var s = document.createElement('samp');
  s.textContent = 'bought at ' + document.getElementById('price').textContent;
  document.getElementById('log').appendChild(s);
};
</script></body></html>"""


def logged(obs: PageObserved) -> list[str]:
    return [e.text for e in obs.observation.elements if e.tag == "samp"]


async def test_a_moving_price_is_bought_while_it_holds_and_never_when_it_does_not(
    running: Running, site: Site
) -> None:
    await running.onboard(["127.0.0.1"])
    url = site.url("/probe?html=" + quote(TICKER))
    await running.submit("t-when", url)
    done, first = await running.step("t-when", 1, Intent(action="navigate", url=url))
    assert done is not None and done.ok, done
    buy, price = element(first, "Buy"), element(first, "price")
    when = Intent(action="click_when", element=buy, target_element=price, text="< 50", wait_ms=5000)
    done, obs = await running.step("t-when", 2, when)
    assert done is not None and done.ok, done
    assert logged(obs) in (["bought at $49.50"], ["bought at $49.00"]), logged(obs)
    never = Intent(
        action="click_when", element=buy, target_element=price, text="<= 10", wait_ms=400
    )
    done, obs = await running.step("t-when", 3, never)
    assert done is not None and not done.ok and "never met" in done.error, done
    assert len(logged(obs)) == 1, logged(obs)
