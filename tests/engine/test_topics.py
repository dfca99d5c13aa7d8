from __future__ import annotations

import pytest

from engine.events import EventType, Namespace
from engine.topics import MARKET_TICKS, TopicMap, all_topics, dlq_topic, topic_namespace


def test_namespaced_topics_are_prefixed_and_disjoint() -> None:
    paper = set(TopicMap(Namespace.PAPER).namespaced_topics())
    zerodha = set(TopicMap(Namespace.ZERODHA).namespaced_topics())
    assert all(t.startswith("paper.") for t in paper)
    assert all(t.startswith("zerodha.") for t in zerodha)
    assert not paper & zerodha


def test_names_match_the_design() -> None:
    topics = TopicMap(Namespace.PAPER)
    assert topics.signals_raw == "paper.signals.raw"
    assert topics.orders_filled == "paper.orders.filled"
    assert topics.pnl_snapshots == "paper.pnl.snapshots"
    assert topics.market_ticks == MARKET_TICKS == "market.ticks"
    assert dlq_topic(topics.signals_raw) == "paper.signals.raw.dlq"


def test_topic_namespace_lookup() -> None:
    assert topic_namespace(MARKET_TICKS) is Namespace.SHARED
    assert topic_namespace("zerodha.orders.placed") is Namespace.ZERODHA
    assert topic_namespace(dlq_topic("paper.signals.raw")) is Namespace.PAPER
    with pytest.raises(ValueError, match="unknown topic"):
        topic_namespace("paper.made.up")


def test_shared_namespace_has_no_topic_map() -> None:
    with pytest.raises(ValueError):
        TopicMap(Namespace.SHARED)


def test_for_event_type_routes_each_namespaced_type() -> None:
    topics = TopicMap(Namespace.ZERODHA)
    assert topics.for_event_type(EventType.ORDER_FILLED) == "zerodha.orders.filled"
    assert len(set(all_topics())) == len(all_topics())
