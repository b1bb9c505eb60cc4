"""The dashboard's Host check, operator login and record-topic rule (monitor/security.py)."""

from __future__ import annotations

import base64

from corridor.monitor.security import host_name, record_topic_allowed, token_matches

TOKEN = "tok_0123456789abcdef0123"


def test_host_names() -> None:
    assert host_name("127.0.0.1:8083") == "127.0.0.1"
    assert host_name("LocalHost") == "localhost"
    assert host_name("[::1]:8083") == "[::1]"
    assert host_name("evil.example:80") == "evil.example"


def test_token_matches() -> None:
    basic = base64.b64encode(f"operator:{TOKEN}".encode()).decode()
    assert token_matches(f"Bearer {TOKEN}", TOKEN)
    assert token_matches(f"Basic {basic}", TOKEN)
    other_user = base64.b64encode(f"admin:{TOKEN}".encode()).decode()
    for bad in ("", f"Bearer {TOKEN}x", f"Basic {other_user}", "Basic !!!", f"Token {TOKEN}", "Bearer "):
        assert not token_matches(bad, TOKEN), bad


def test_record_topics() -> None:
    own = ("trade.orders.v1", "trade.dlq.v1")
    assert record_topic_allowed("trade.orders.v1", own, ())
    assert not record_topic_allowed("partner.acme.v1", own, ())
    assert record_topic_allowed("partner.acme.v1", own, ("partner.acme.v1",))
    assert record_topic_allowed("anything", own, ("*",))
