"""The MiniWoB harness's page server: task pages with the start script, rewards collected."""

from __future__ import annotations

from pathlib import Path

import httpx

from macrohard.bench.miniwob_episode import AUTOSTART, PageServer, Reward


def test_a_seeded_page_gets_the_start_script_and_its_reward_is_kept() -> None:
    with PageServer() as pages:
        # Any task page will do: the harness treats them all alike.
        task = next((Path(pages.root) / "miniwob").glob("*.html")).stem
        seeded = httpx.get(pages.url(task, seed=3, max_ms=1000, tag="t1"))
        plain = httpx.get(f"{pages.base}{task}.html")
        posted = httpx.post(
            pages.base.replace("/miniwob/", "/__reward"),
            json={"tag": "t1", "reward": 1.0, "raw": 1.0, "reason": "done"},
        )
        again = httpx.post(  # a late second beacon does not overwrite the first
            pages.base.replace("/miniwob/", "/__reward"),
            json={"tag": "t1", "reward": -1.0, "raw": -1.0, "reason": "late"},
        )
        reward = pages.reward("t1")
    assert seeded.status_code == 200 and AUTOSTART in seeded.text
    assert plain.status_code == 200 and AUTOSTART not in plain.text
    assert posted.status_code == 204 and again.status_code == 204
    assert reward == Reward(1.0, 1.0, "done")
