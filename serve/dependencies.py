"""The app's shared state, handed to the routes as FastAPI dependencies.

:func:`serve.app.create_app` builds one :class:`ServeState` and keeps it on ``app.state``; a
route names the part it needs as a parameter (``service: ServiceDep``), as FastAPI's "bigger
applications" layout does, so a test can replace one part with ``app.dependency_overrides``.
The getters are ``async``: FastAPI would run plain functions in its thread pool, per request.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from serve.batching import MicroBatcher
from serve.prediction import PredictionService
from serve.prometheus import ServeMetrics, create_metrics
from serve.remote_images import ImageFetcher
from serve.rendering import Pages
from serve.settings import ServeSettings

if TYPE_CHECKING:  # the app only calls it; importing it would load torch for type hints
    from train.predictor import Predictor


@dataclasses.dataclass(frozen=True)
class ServeState:
    """Everything the routes share, built once per app around an already-loaded predictor."""

    settings: ServeSettings
    predictor: Predictor
    metrics: ServeMetrics
    batcher: MicroBatcher
    fetcher: ImageFetcher
    service: PredictionService
    pages: Pages

    @classmethod
    def create(cls, settings: ServeSettings, predictor: Predictor) -> ServeState:
        metrics = create_metrics()
        batcher = MicroBatcher(
            predictor.predict,
            settings.max_batch_size,
            settings.max_wait_ms,
            on_batch=metrics.batch_sizes.observe,
        )
        fetcher = ImageFetcher.from_settings(settings)
        service = PredictionService(settings, predictor, batcher, fetcher)
        pages = Pages.create(predictor, metrics)
        return cls(settings, predictor, metrics, batcher, fetcher, service, pages)


def serve_state(request: Request) -> ServeState:
    return request.app.state.serve


async def get_settings(request: Request) -> ServeSettings:
    return serve_state(request).settings


async def get_predictor(request: Request) -> Predictor:
    return serve_state(request).predictor


async def get_metrics(request: Request) -> ServeMetrics:
    return serve_state(request).metrics


async def get_batcher(request: Request) -> MicroBatcher:
    return serve_state(request).batcher


async def get_service(request: Request) -> PredictionService:
    return serve_state(request).service


async def get_pages(request: Request) -> Pages:
    return serve_state(request).pages


SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
PredictorDep = Annotated["Predictor", Depends(get_predictor)]
MetricsDep = Annotated[ServeMetrics, Depends(get_metrics)]
BatcherDep = Annotated[MicroBatcher, Depends(get_batcher)]
ServiceDep = Annotated[PredictionService, Depends(get_service)]
PagesDep = Annotated[Pages, Depends(get_pages)]
