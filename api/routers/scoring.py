"""POST /v1/score: score statements the caller sends, with the champion model (`score` scope)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import ChampionsDep, ScoreKey
from api.errors import ApiProblem
from api.schemas.scoring import ScoreRequest, ScoreResponse
from api.scoring import ChampionUnavailable, choose_request_segment, score_statements

router = APIRouter(tags=["scoring"])

# Up to this many statements (about 2 ms of CPU each) are scored on the event loop rather than in a worker thread.
INLINE_STATEMENTS = 4


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    summary="Score one or many sets of canonical statement items with their segment's champion model",
    description="Each statement is scored by the champion of its segment (listed with market data, listed "
    "statements only, SME: given, or chosen from the items) with features computed from the items as for filed "
    "statements (prior years optional, for growth and trend features); each result names its segment, model and "
    "version. Out-of-domain results are flagged, not refused. Financial firms are outside the models' scope.",
)
async def score(body: ScoreRequest, _key: ScoreKey, caches: ChampionsDep) -> dict:
    # async, with the work in one thread-pool call: a sync endpoint would also send the response's validation
    # to the thread pool, one more thread hop per request.
    statements = [
        {
            "reference": entry.reference,
            "items": entry.items.model_dump(),
            "prior_years": [prior.model_dump() for prior in entry.prior_years],
            "segment": entry.segment,
            "currency": entry.currency,
            "fiscal_year": entry.fiscal_year,
        }
        for entry in body.statements
    ]
    wanted = list(dict.fromkeys(choose_request_segment(entry)[0] for entry in statements))
    # one scoring at a time per segment model; locks taken in a fixed order so two requests cannot deadlock
    locks = [caches[segment].scoring_lock for segment in sorted(wanted)]

    def answer(models: dict) -> dict:
        results = score_statements(models, statements, body.top_drivers)
        return {
            "model_name": results[0]["model_name"],
            "model_version": results[0]["model_version"],
            "results": results,
        }

    def run() -> dict:
        # re-reads each alias (MLflow) only when the interval has passed
        models = {}
        for segment in wanted:
            version, model = caches[segment].current()
            models[segment] = (caches[segment].model_name, version, model)
        for lock in locks:
            lock.acquire()
        try:
            return answer(models)
        finally:
            for lock in reversed(locks):
                lock.release()

    hot = {segment: caches[segment].peek() for segment in wanted}
    if all(v is not None for v in hot.values()) and len(statements) <= INLINE_STATEMENTS:
        # A few statements take about as long to score as a hand-off to a worker thread and back: score them
        # here. Never waits: with a model busy (a large batch in a worker) or an alias re-check due, they go
        # to the thread pool like everything else.
        taken = []
        try:
            for lock in locks:
                if not lock.acquire(blocking=False):
                    break
                taken.append(lock)
            else:
                return answer({segment: (caches[segment].model_name, *hot[segment]) for segment in wanted})
        finally:
            for lock in reversed(taken):
                lock.release()
    try:
        return await run_in_threadpool(run)
    except ChampionUnavailable as error:
        raise ApiProblem(
            503, f"no champion model to score with: {error}", headers={"Retry-After": "60"}
        ) from None
