"""POST /v1/score: score statements the caller sends, with the champion model (`score` scope)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.deps import ScoreKey
from api.errors import ApiProblem
from api.schemas.scoring import ScoreRequest, ScoreResponse
from api.scoring import ChampionUnavailable, score_statements

router = APIRouter(tags=["scoring"])

# Up to this many statements (about 2 ms of CPU each) are scored on the event loop rather than in a worker thread.
INLINE_STATEMENTS = 4


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    summary="Score one or many sets of canonical statement items with the champion model",
    description="Ratios are computed from the items as for filed statements (prior years optional, for growth "
    "ratios); the answer names the model version that produced it. Out-of-domain results are flagged, not "
    "refused. Financial firms are outside the bundled model's scope.",
)
async def score(request: Request, body: ScoreRequest, _key: ScoreKey) -> dict:
    # async, with the work in one thread-pool call: a sync endpoint would also send the response's validation
    # to the thread pool, one more thread hop per request.
    cache = request.app.state.champion
    statements = [
        {
            "reference": entry.reference,
            "items": entry.items.model_dump(),
            "prior_years": [prior.model_dump() for prior in entry.prior_years],
        }
        for entry in body.statements
    ]

    def run() -> tuple[str, list[dict]]:
        version, model = cache.current()  # re-reads the alias (MLflow) only when the interval has passed
        with cache.scoring_lock:
            return version, score_statements(model, statements, body.top_drivers)

    hot = cache.peek()
    if hot is not None and len(statements) <= INLINE_STATEMENTS and cache.scoring_lock.acquire(blocking=False):
        # A few statements take about as long to score as a hand-off to a worker thread and back: score them
        # here. Never waits: with the model busy (a large batch in a worker) or an alias re-check due, they go
        # to the thread pool like everything else.
        try:
            version, results = hot[0], score_statements(hot[1], statements, body.top_drivers)
        finally:
            cache.scoring_lock.release()
        return {"model_name": cache.model_name, "model_version": version, "results": results}
    try:
        version, results = await run_in_threadpool(run)
    except ChampionUnavailable as error:
        raise ApiProblem(503, f"no champion model to score with: {error}", headers={"Retry-After": "60"}) from None
    return {"model_name": cache.model_name, "model_version": version, "results": results}
