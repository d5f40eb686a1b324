"""Operations: liveness and readiness probes and Prometheus metrics (/docs: serve.docs_assets)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serve.dependencies import BatcherDep, MetricsDep, PredictorDep

router = APIRouter()


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the model is loaded and the batcher runs")
async def readyz(batcher: BatcherDep, predictor: PredictorDep) -> JSONResponse:
    ready = batcher.is_alive()
    body = {"status": "ready" if ready else "stopping", "model": predictor.name}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics_endpoint(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
