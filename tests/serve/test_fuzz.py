"""Schemathesis: over 1,000 generated requests from the app's own OpenAPI schema, no 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from serve.cpu_tuning import tuned_predictor, tuning_for
from serve.settings import ServeSettings

CASES = 1200


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error(
    build_app, image_bytes, running_drive_mock, tiny_predictor
):
    with running_drive_mock() as mock:
        mock.add_drive_file("abc", image_bytes())
        # The model as the server runs it by default (ONNX Runtime), as clients get it.
        served = tuned_predictor(tiny_predictor("both"), tuning_for(ServeSettings()))
        app = build_app(served, drive_base_url=mock.drive_base_url, fetch_timeout_s=2.0)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        cases = st.one_of(
            schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE)
        )
        seen: list[str] = []

        @given(case=cases)
        @settings(
            max_examples=CASES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case) -> None:
            seen.append(case.operation.label)
            response = case.call()
            assert response.status_code < 500, (
                f"{case.operation.label} answered {response.status_code}: {response.text[:300]}"
                f"\n{case.as_curl_command()}"
            )

        no_server_error()
    assert len(seen) >= 1000
    assert {"GET /predict", "POST /predict", "POST /api/predict"} <= set(seen)
