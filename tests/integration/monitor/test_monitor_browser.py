"""The dashboard in a real headless Chromium: the numbers on the page are the produced ones.

The page is opened with the test's consumer group pinned. The test waits until the page has rendered a
sample, then checks, for the very sample the page shows (``data-sampled-at``), that every figure in the
DOM equals the monitor's JSON; that the pinned group's lag equals the records appended since its commit;
that a story published while the page is open arrives in the live stream and moves the figures; that
clicking an event shows its decoded payload. Screenshots go to pytest's tmp dir (and to
``$CORRIDOR_MONITOR_SCREENSHOT`` when set, which is how docs/img/monitor.png was made).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest

from corridor.core.kafka import TradeProducer
from corridor.core.topics import TRADE_TOPICS
from corridor.demo.story import explosives_story, with_own_numbers
from tests.integration.monitor.monitor_helpers import OPERATOR_TOKEN, Produced, World, get_json, group_of
from tests.support.browser import Chromium, find_chromium


def basic_login() -> dict[str, str]:
    credential = base64.b64encode(f"operator:{OPERATOR_TOKEN}".encode()).decode()
    return {"Authorization": f"Basic {credential}"}


pytestmark = [pytest.mark.integration, pytest.mark.e2e]

#: What the page shows, read from its stable ids and data attributes.
READ_PAGE = """(() => {
  const GROUP = __GROUP__;
  const num = (v) => (v === undefined || v === "" ? null : Number(v));
  const topics = {};
  for (const row of document.querySelectorAll("#topics tr[data-topic]")) {
    topics[row.dataset.topic] = {
      end: num(row.dataset.endOffset),
      text: row.querySelector(".end-offset").textContent,
    };
  }
  const group = document.querySelector(`#groups tr[data-group="${GROUP}"]`);
  const states = {};
  for (const bar of document.querySelectorAll('#states-trades [data-state-kind="trades"]')) {
    states[bar.dataset.state] = num(bar.dataset.count);
  }
  return {
    sampledAt: num(document.body.dataset.sampledAt),
    topics,
    group: group && {
      lag: num(group.dataset.lag),
      text: group.querySelector(".lag-total").textContent,
      cells: group.querySelectorAll(".lag-cell").length,
    },
    kpiTradeEvents: num(document.getElementById("kpi-trade-events").dataset.value),
    dlqDepth: num(document.getElementById("dlq-depth").dataset.value),
    p50: num(document.getElementById("lat-p50").dataset.value),
    p99: num(document.getElementById("lat-p99").dataset.value),
    states,
    streamIds: [...document.querySelectorAll("#stream tbody tr")].map((r) => r.dataset.eventId),
  };
})()"""


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    if find_chromium() is None:
        message = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with Chromium(tmp_path, width=1400, height=1000) as chromium:
        # the operator's login, sent with every request of the page (fetch and EventSource too), as the
        # browser does once the operator answered its Basic prompt
        chromium.send("Network.enable")
        chromium.send("Network.setExtraHTTPHeaders", headers=basic_login())
        yield chromium


def page_numbers(browser: Chromium, group: str) -> dict[str, Any]:
    value: dict[str, Any] = browser.evaluate(READ_PAGE.replace("__GROUP__", json.dumps(group)))
    return value


async def page_and_api_of_one_sample(
    browser: Chromium, http: httpx.AsyncClient, group: str, within: float = 30.0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page's figures and the API's overview of the same sample (the page draws /api/overview)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        api = await get_json(http, "/api/overview", group=group)
        page = await asyncio.to_thread(page_numbers, browser, group)
        if page["sampledAt"] == api["sampled_at_ms"] and page["group"] is not None:
            return page, api
        await asyncio.sleep(0.3)
    raise AssertionError("the page never showed the sample the API answered with")


def assert_page_shows(page: dict[str, Any], api: dict[str, Any], group: str) -> None:
    topics = {t["name"]: t for t in api["topics"]}
    for name in TRADE_TOPICS:
        shown = page["topics"][name]
        assert shown["end"] == topics[name]["end_offset"], name
        assert shown["text"].replace(",", "") == str(topics[name]["end_offset"])  # the text, formatted
    assert page["kpiTradeEvents"] == api["kpis"]["trade_events"]
    row = group_of(api["groups"], group)
    assert row is not None
    assert page["group"]["lag"] == row["lag"]
    assert page["group"]["text"].replace(",", "") == str(row["lag"])
    assert page["group"]["cells"] == 18  # one cell per trade partition it committed
    assert page["dlqDepth"] == api["dlq"]["depth"]
    assert page["p50"] == api["latency"]["p50_ms"] and page["p99"] == api["latency"]["p99_ms"]
    assert page["states"] == api["trades"]["trades"]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


async def test_the_dashboard_shows_what_was_produced(
    browser: Chromium,
    produced: Produced,
    monitor_world: World,
    monitor_http: httpx.AsyncClient,
    trade_producer: TradeProducer,
    tmp_path: Path,
) -> None:
    group = produced.group
    await asyncio.to_thread(browser.goto, f"{monitor_world.url}/?group={group}")
    await asyncio.to_thread(browser.wait_for, "Number(document.body.dataset.rendered) > 0")

    page, api = await page_and_api_of_one_sample(browser, monitor_http, group)
    assert_page_shows(page, api, group)
    # the pinned group committed at ``before``: its lag is every record appended since, ours included
    shown_ends = sum(page["topics"][t]["end"] for t in TRADE_TOPICS)
    assert page["group"]["lag"] == shown_ends - sum(produced.before.values())
    assert page["group"]["lag"] >= produced.count
    assert page["states"], "the ledger's trades by state are drawn"

    # a story published while the page is open: into the live stream, and the figures move with it
    story = with_own_numbers(explosives_story)  # the conftest's explosives trade drew its licences
    await trade_producer.publish_many(story.events)
    ids = [str(e.event_id) for e in story.events]
    await asyncio.to_thread(
        browser.wait_for,
        " && ".join(f"!!document.querySelector('#stream tr[data-event-id=\"{i}\"]')" for i in ids),
        30,
    )
    lag_before = page["group"]["lag"]
    row = f'#groups tr[data-group="{group}"]'
    await asyncio.to_thread(
        browser.wait_for, f"Number(document.querySelector('{row}').dataset.lag) >= {lag_before + 7}", 30
    )
    page, api = await page_and_api_of_one_sample(browser, monitor_http, group)
    assert_page_shows(page, api, group)
    assert page["group"]["lag"] == sum(page["topics"][t]["end"] for t in TRADE_TOPICS) - sum(
        produced.before.values()
    )

    # let the charts gather a few samples, then the picture
    await asyncio.sleep(4)
    screenshot = await asyncio.to_thread(browser.screenshot, tmp_path / "monitor.png")
    width, height = png_size(screenshot)
    assert width == 1400 and height >= 1000
    assert screenshot.stat().st_size > 50_000  # a rendered dashboard, not a blank page
    target = os.environ.get("CORRIDOR_MONITOR_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, target)

    # click the story's order: the drawer shows its Avro payload, decoded
    order = str(story.events[0].event_id)
    await asyncio.to_thread(
        browser.evaluate, f"document.querySelector('#stream tr[data-event-id=\"{order}\"]').click()"
    )
    text = await asyncio.to_thread(
        browser.wait_for,
        f"(() => {{ const t = document.getElementById('drawer-payload').textContent;"
        f" return t.includes('{order}') && t.includes('{story.trade_id}') ? t : ''; }})()",
        15,
    )
    assert '"event_id"' in text and "UN0241" in text
    assert await asyncio.to_thread(browser.evaluate, "document.getElementById('drawer').hidden") is False
    title = await asyncio.to_thread(browser.evaluate, "document.getElementById('drawer-title').textContent")
    assert title == "OrderPlaced"
    await asyncio.to_thread(browser.screenshot, tmp_path / "monitor-event.png", full_page=False)
