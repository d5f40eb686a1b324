"""The one exception type a request handler raises for a client-visible failure.

Carrying the HTTP status and a short machine-readable ``reason`` lets a single handler render
the message as HTML or JSON and count it in ``/metrics`` under that reason.
"""

from __future__ import annotations


class RequestFailed(Exception):
    """A request that cannot be answered, with the status and the message the client sees."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
