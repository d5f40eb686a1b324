"""The demo site's throttling and block answers over plain HTTP: Instagram's bodies and status
codes for 401 "Please wait a few minutes", GraphQL rate-limit errors, ``feedback_required`` and
the logged-out redirect to ``/`` (tests/crawler/test_crawl_throttle.py drives them in Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from demo_site.generator import DemoCorpus
from demo_site.server import DemoSite
from runtime.errors import UsageError


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    return DemoCorpus(seed=5, n_posts=3_000)


@pytest.fixture(scope="module")
def tag(corpus: DemoCorpus) -> str:
    return corpus.tags()[0]


def _feed(site: DemoSite, tag: str, **kwargs: Any) -> requests.Response:
    return requests.get(
        f"{site.base_url}/api/v1/tags/{tag}/sections/", timeout=10, allow_redirects=False, **kwargs
    )


@pytest.mark.parametrize(
    ("answer", "status", "counter"),
    [("wait_401", 401, "status_401"), ("graphql_errors", 200, "graphql_errors")],
)
def test_throttling_answers_have_instagrams_bodies(
    corpus: DemoCorpus, tag: str, answer: str, status: int, counter: str
) -> None:
    config = {"rate_limit": {"every": 1, "burst": 1, "answer": answer}}
    with DemoSite(corpus, config) as site:
        served, refused = _feed(site, tag), _feed(site, tag)
        counters = site.counters
    assert served.status_code == 200 and served.json()["status"] == "ok"
    assert refused.status_code == status and "Retry-After" not in refused.headers
    body = refused.json()
    if answer == "wait_401":
        assert body["require_login"] is True and body["message"].startswith("Please wait a few")
    else:
        assert body["data"] is None and body["errors"][0]["code"] == 1675004
    assert counters[counter] == 1 and counters["status_429"] == 0


def test_a_partial_rate_limit_keeps_the_other_defaults_and_retry_after_0_is_sent(
    corpus: DemoCorpus, tag: str
) -> None:
    """``--set demo.rate_limit.every=1`` overrides one key of the section, not the section."""
    with DemoSite(corpus, {"rate_limit": {"every": 1, "burst": 1, "retry_after": 0}}) as site:
        _feed(site, tag)
        refused = _feed(site, tag)
    assert refused.status_code == 429  # answer: http_429 from configs/demo.yaml
    assert refused.headers["Retry-After"] == "0"


def test_feedback_required_lifts_after_its_requests(corpus: DemoCorpus, tag: str) -> None:
    with DemoSite(corpus, {"feedback_after": 1, "feedback_lasts": 2}) as site:
        statuses = [_feed(site, tag) for _ in range(4)]
        assert site.counters["feedback_required"] == 2
    assert [r.status_code for r in statuses] == [200, 400, 400, 200]
    assert statuses[1].json()["message"] == "feedback_required"
    assert statuses[1].json()["feedback_title"] == "Try Again Later"


def test_logged_out_visitors_are_sent_home_and_sessions_are_not(
    corpus: DemoCorpus, tag: str
) -> None:
    with DemoSite(corpus, {"logged_out_home_after": 1}) as site:
        assert _feed(site, tag).status_code == 200
        sent_home = _feed(site, tag)
        home = requests.get(site.base_url + "/", timeout=10, allow_redirects=False)
        with_session = _feed(site, tag, cookies={"sessionid": "demo"})
        assert site.counters["logged_out_redirects"] == 1
    assert sent_home.status_code == 302 and sent_home.headers["Location"] == "/"
    assert home.status_code == 200  # home itself is served, or the redirect would loop
    assert with_session.status_code == 200


def test_an_unknown_throttling_answer_is_refused(corpus: DemoCorpus) -> None:
    with pytest.raises(UsageError, match="rate_limit.answer must be 'http_429', 'wait_401'"):
        DemoSite(corpus, {"rate_limit": {"every": 1, "burst": 1, "answer": "503"}})
