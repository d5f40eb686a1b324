"""Throttling and blocks read as the peers read them, and the budgets that keep us under them.

The bodies are the ones Instagram sends in 2024-2026 as instaloader's and gallery-dl's issue
trackers quote them; those the demo site serves come from demo_site.refusals, so the classifier
is checked on exactly what the demo sends. No browser is needed here
(tests/crawler/test_crawl_throttle.py drives the demo site's fault modes in Chromium).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crawler import blocks, parsers
from crawler.politeness import Politeness, query_type
from crawler.summary import CrawlSummary
from demo_site.refusals import RATE_LIMIT_MESSAGE, REFUSALS
from runtime.errors import RemoteStop

WAIT_401 = REFUSALS["wait_401"][1]
GRAPHQL_RATE_LIMIT = REFUSALS["graphql_errors"][1]
FEEDBACK_REQUIRED = REFUSALS["feedback"][1]  # gallery-dl #7202, the "Try Again Later" block
GRAPHQL_BAD_QUERY = {  # gallery-dl #7202: an invalid query, not throttling
    "errors": [
        {
            "message": "execution error",
            "code": 1675002,
            "summary": "Incorrect Query",
            "description": "The query provided was invalid.",
            "extensions": {},
            "severity": "CRITICAL",
        }
    ],
    "status": "ok",
}
CHECKPOINT_REQUIRED = {
    "message": "checkpoint_required",
    "checkpoint_url": "https://www.instagram.com/challenge/AXHk2vR/Zk1aUq3fJc/",
    "lock": False,
    "flow_render_type": 0,
    "status": "fail",
}
CHALLENGE_REQUIRED = {
    "message": "challenge_required",
    "challenge": {
        "url": "https://i.instagram.com/challenge/?next=/api/v1/tags/sunset/sections/",
        "api_path": "/challenge/",
        "hide_webview_header": True,
        "lock": True,
        "logout": False,
        "native_flow": True,
    },
    "status": "fail",
}
LOGIN_REQUIRED = {"message": "login_required", "require_login": True, "status": "fail"}
FEED_PAGE = {"sections": [], "more_available": False, "next_max_id": None, "status": "ok"}


def body(obj: Any) -> str:
    return json.dumps(obj)


@pytest.mark.parametrize(
    ("status", "payload", "logged_in", "kind", "reason"),
    [
        (401, WAIT_401, True, "rate_limit", "HTTP 401 'Please wait a few minutes'"),
        (401, WAIT_401, False, "rate_limit", "HTTP 401 'Please wait a few minutes'"),
        (200, GRAPHQL_RATE_LIMIT, True, "rate_limit", "GraphQL rate limit errors at HTTP 200"),
        (429, {"message": RATE_LIMIT_MESSAGE}, False,
         "rate_limit", "HTTP 429"),
        (429, "", False, "rate_limit", "HTTP 429"),
        (429, "<html><body>Too Many Requests</body></html>", False, "rate_limit", "HTTP 429"),
        (401, LOGIN_REQUIRED, True, "rate_limit", "HTTP 401 require_login on a logged-in session"),
        (401, LOGIN_REQUIRED, False, "login", "HTTP 401 login"),
        (400, FEEDBACK_REQUIRED, True, "feedback", "HTTP 400 feedback"),
        (400, CHECKPOINT_REQUIRED, True, "challenge", "HTTP 400 challenge"),
        (400, CHALLENGE_REQUIRED, True, "challenge", "HTTP 400 challenge"),
        (200, GRAPHQL_BAD_QUERY, True, None, None),
        (200, FEED_PAGE, False, None, None),
        (404, {"message": "Page not found", "status": "fail"}, False, None, None),
    ],
    ids=[
        "401-please-wait-logged-in",
        "401-please-wait-logged-out",
        "graphql-1675004-at-200",
        "429-json",
        "429-empty",
        "429-html",
        "401-require-login-logged-in",
        "401-login-required-logged-out",
        "400-feedback-required",
        "400-checkpoint-required",
        "400-challenge-required",
        "graphql-incorrect-query",
        "feed-page",
        "404",
    ],
)  # fmt: skip
def test_refusals_are_classified_as_the_peers_do(
    status: int, payload: Any, logged_in: bool, kind: str | None, reason: str | None
) -> None:
    text = payload if isinstance(payload, str) else body(payload)
    refusal = blocks.classify_response(status, parsers.json_or_none(text), logged_in)
    assert (refusal.kind, refusal.reason) == (kind, reason) if refusal else kind is None


def test_guarded_json_and_data_beside_errors() -> None:
    guarded = "for (;;);" + body(WAIT_401)
    assert blocks.classify_response(401, parsers.json_or_none(guarded), False).kind == "rate_limit"
    # Errors that come with data are partial results, not a refusal: the posts are kept.
    partial = {**GRAPHQL_RATE_LIMIT, "data": {"user": {"edge_owner_to_timeline_media": {}}}}
    assert blocks.classify_json(partial) is None
    assert blocks.classify_json(GRAPHQL_RATE_LIMIT) == "rate_limit"
    assert blocks.classify_json(FEEDBACK_REQUIRED) == "feedback"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://www.instagram.com/accounts/login/?next=%2Fexplore%2Ftags%2Fcats%2F", "login"),
        ("https://www.instagram.com/", "login"),
        ("http://127.0.0.1:8800/", "login"),
        ("https://www.instagram.com/challenge/?next=/explore/tags/cats/", "challenge"),
        ("https://www.instagram.com/explore/tags/challenge/", None),
        ("https://www.instagram.com/explore/tags/cats/?max_id=123", None),
        ("https://www.instagram.com/api/v1/tags/cats/sections/", None),
    ],
)
def test_redirect_targets_that_are_walls(url: str, kind: str | None) -> None:
    assert blocks.classify_redirect(url) == kind


@pytest.mark.parametrize(
    ("url", "resource_type", "headers", "expected"),
    [
        ("https://www.instagram.com/explore/tags/cats/", "Document", {}, "page"),
        (
            "https://www.instagram.com/graphql/query",
            "Fetch",
            {"X-FB-Friendly-Name": "PolarisProfilePostsTabContentQuery_connection"},
            "graphql:PolarisProfilePostsTabContentQuery_connection",
        ),
        (
            "https://www.instagram.com/graphql/query/?doc_id=7898261790222653&variables=%7B%7D",
            "XHR",
            {},
            "graphql:7898261790222653",
        ),
        (
            "https://www.instagram.com/graphql/query/?query_hash=9b498c08113f1e09617a1703c22b2f32",
            "XHR",
            {},
            "graphql:9b498c08113f1e09617a1703c22b2f32",
        ),
        ("https://www.instagram.com/api/graphql", "Fetch", {}, "graphql"),
        ("https://www.instagram.com/api/v1/tags/cats/sections/", "XHR", {}, "api"),
        ("https://www.instagram.com/api/v1/media/3312/info/", "Fetch", {}, "api"),
        ("https://www.instagram.com/logging/falco", "Fetch", {}, None),
        ("https://www.instagram.com/ajax/bz?__a=1", "XHR", {}, None),
        ("https://www.instagram.com/ajax/bulk-route-definitions/", "XHR", {}, None),
        ("https://www.instagram.com/api/v1/web/fxcal/ig_sso_users/", "XHR", {}, None),
        ("https://www.instagram.com/static/bundles/app.js", "Script", {}, None),
    ],
)
def test_only_api_requests_and_page_loads_count_against_the_budget(
    url: str, resource_type: str, headers: dict[str, str], expected: str | None
) -> None:
    assert query_type(url, resource_type, headers) == expected


def test_a_posted_graphql_query_is_named_by_its_form() -> None:
    form = "av=0&fb_api_req_friendly_name=&variables=%7B%7D&server_timestamps=true&doc_id=8845758"
    assert query_type("https://www.instagram.com/graphql/query", "Fetch", {}, form) == (
        "graphql:8845758"
    )


def test_defaults_are_no_looser_than_instaloaders_rate_controller() -> None:
    config = Politeness().config
    assert config.budget_requests <= 200 and config.budget_window_s >= 660
    assert config.graphql_budget_requests <= 275 and config.graphql_budget_window_s >= 600
    assert config.api_budget_requests <= 75
    assert config.delay_mean_s >= 1 / 0.6 - 0.01 and config.delay_max_s >= 15
    assert config.backoff_base_s >= 60 and config.backoff_margin_s >= 6


def test_each_query_type_has_its_own_window_and_graphql_shares_one(fake_time, paced) -> None:
    polite = paced(budget_requests=3, budget_window_s=100, graphql_budget_requests=6)
    polite.note_requests({"graphql:A": 3, "graphql:B": 2, "page": 2})
    fake_time.now = 10
    # graphql:A is at its own limit of 3: wait until its first request leaves the 100-s window.
    assert polite.wait_turn() == pytest.approx(90)
    polite.note_requests({"graphql:C": 1})
    # Six GraphQL requests of three types in the last 10 minutes: all of them wait for the
    # first ones to leave the shared 600-s window.
    assert polite.wait_turn() == pytest.approx(600 - 100)
    assert polite.sleep_counts["request budget"] == 2


def test_api_v1_requests_share_instaloaders_other_budget(paced) -> None:
    polite = paced(api_budget_requests=4, budget_window_s=60)
    polite.note_requests({"api": 4, "page": 1})
    polite.no_delay = True  # a loopback demo site: no pauses, no budgets
    assert polite.wait_turn() == 0
    polite.no_delay = False
    assert polite.wait_turn() == pytest.approx(60)


def test_throttled_sleeps_until_the_window_clears_plus_margin_and_doubles(fake_time, paced) -> None:
    polite = paced()  # the defaults: 60 s doubling, window 660 s + 6 s
    polite.note_requests({"api": 10})
    fake_time.now = 100
    # Refused 100 s after the first API request: its window clears 560 s later, plus 6 s.
    assert polite.throttled(1, "HTTP 429", "api") == pytest.approx(566)
    fake_time.now = 2000  # long after the window: the doubling backoff rules, jittered upwards
    assert 60 <= polite.throttled(1, "HTTP 429", "api") <= 75
    assert 240 <= polite.throttled(3, "HTTP 429", "page") <= 300
    assert polite.throttled(2, "HTTP 401 'Please wait'", None, retry_after=900) == 900
    assert dict(polite.sleep_counts) == {"HTTP 429": 3, "HTTP 401 'Please wait'": 1}
    assert polite.slept_s["HTTP 401 'Please wait'"] == 900


def test_a_stalled_feed_is_not_reloaded_at_once(fake_time, paced) -> None:
    polite = paced(stall_pause_s=30, max_consecutive_failures=4)
    polite.failure("no feed response")
    polite.failure("no feed response")
    assert fake_time.now == pytest.approx(30 + 60)
    assert polite.sleep_counts["stalled feed or page load"] == 2


def test_summary_reports_every_sleep_by_reason() -> None:
    summary = CrawlSummary(sleeps={"HTTP 429": (2, 130.0), "request budget": (1, 12.5)})
    lines = summary.lines()
    assert "  slept: 142.5 s" in lines
    assert "    HTTP 429: 2 x, 130.0 s" in lines and "    request budget: 1 x, 12.5 s" in lines
    assert "  slept: 0.0 s (no waits)" in CrawlSummary().lines()


def test_no_attempts_left_stops_at_the_first_refusal(paced) -> None:
    with pytest.raises(RemoteStop, match="still refused after 0 sleeps"):
        paced(backoff_attempts=0).throttled(1, "HTTP 429", None)
