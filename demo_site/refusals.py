"""How the demo site refuses, in the bodies Instagram refuses with.

tests/crawler/test_throttle.py checks the crawler's block classifier on these same bodies.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

RATE_LIMIT_MESSAGE = "Please wait a few minutes before you try again."
# The bodies Instagram refuses with (as instaloader's and gallery-dl's trackers record them);
REFUSALS: dict[str, tuple[int, dict[str, Any]]] = {
    "http_429": (HTTPStatus.TOO_MANY_REQUESTS, {"message": RATE_LIMIT_MESSAGE, "status": "fail"}),
    "wait_401": (
        HTTPStatus.UNAUTHORIZED,
        {"message": RATE_LIMIT_MESSAGE, "require_login": True, "status": "fail"},
    ),
    "graphql_errors": (
        HTTPStatus.OK,
        {
            "data": None,
            "errors": [
                {
                    "message": "Rate limit exceeded",
                    "severity": "CRITICAL",
                    "code": 1675004,
                    "summary": "Rate limit exceeded",
                    "description": RATE_LIMIT_MESSAGE,
                    "is_silent": False,
                    "is_transient": True,
                    "requires_reauth": False,
                }
            ],
            "extensions": {"is_final": True},
            "status": "ok",
        },
    ),
    "feedback": (
        HTTPStatus.BAD_REQUEST,
        {
            "message": "feedback_required",
            "spam": True,
            "feedback_title": "Try Again Later",
            "feedback_message": "We limit how often you can do certain things on Instagram to "
            "protect our community. Tell us if you think we made a mistake.",
            "feedback_url": "repute/report_problem/scraping/",
            "feedback_action": "report_problem",
            "feedback_appeal_label": "Tell us",
            "restriction_enrollment_data": "",
            "status": "fail",
        },
    ),
}

REFUSAL_COUNTERS = {
    "http_429": "status_429",
    "wait_401": "status_401",
    "graphql_errors": "graphql_errors",
    "feedback": "feedback_required",
}
