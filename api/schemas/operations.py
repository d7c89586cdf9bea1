"""Operations: launching asset jobs on Dagster, following runs, the watchlist."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import UtcDateTime


def _asset_jobs() -> tuple[dict[str, str], dict[str, str]]:
    """({name: description} of the jobs partitioned by company, of the unpartitioned jobs), read from
    risk_assets/defs/jobs.py, so the API offers exactly the asset jobs the code location defines."""
    from risk_assets.defs import jobs
    from risk_assets.defs.partitions import company_partitions

    found = [
        job
        for job in vars(jobs).values()
        if isinstance(getattr(job, "name", None), str)
        and hasattr(job, "partitions_def")
        and hasattr(job, "selection")
    ]
    by_company = {
        job.name: job.description or "" for job in found if job.partitions_def is company_partitions
    }
    whole = {job.name: job.description or "" for job in found if job.partitions_def is None}
    return dict(sorted(by_company.items())), dict(sorted(whole.items()))


PARTITIONED_JOBS, WHOLE_GRAPH_JOBS = _asset_jobs()
COMPANY_ID_PATTERN = r"^(sec-[0-9]{10}|dart-[0-9]{8})$"


def _described(jobs: dict[str, str]) -> str:
    return "; ".join(f"`{name}`: {text.rstrip('.')}" for name, text in jobs.items())


class CompanyRefresh(BaseModel):
    """A job partitioned by company, for one company."""

    model_config = ConfigDict(extra="forbid", strict=True)

    job: Literal[tuple(PARTITIONED_JOBS)] = Field(description=_described(PARTITIONED_JOBS))  # type: ignore[valid-type]
    partition_key: str = Field(
        pattern=COMPANY_ID_PATTERN,
        examples=["sec-0000320193"],
        description="The company id (a registered partition)",
    )


class GraphJob(BaseModel):
    """A job over the whole graph (no partition)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    job: Literal[tuple(WHOLE_GRAPH_JOBS)] = Field(description=_described(WHOLE_GRAPH_JOBS))  # type: ignore[valid-type]


LaunchRequest = Annotated[CompanyRefresh | GraphJob, Field(discriminator="job")]


class Launched(BaseModel):
    run_id: str = Field(examples=["6a1f5b0e-3d0c-4a8e-9f7b-2c1d0e9f8a7b"])
    job: str = Field(examples=["ingest_filings"])
    partition_key: str | None = Field(default=None, examples=["sec-0000320193"])
    status_url: str = Field(examples=["/v1/runs/6a1f5b0e-3d0c-4a8e-9f7b-2c1d0e9f8a7b"])


class RunStatus(BaseModel):
    run_id: str = Field(examples=["6a1f5b0e-3d0c-4a8e-9f7b-2c1d0e9f8a7b"])
    status: str = Field(
        examples=["SUCCESS"],
        description="Dagster's run status: QUEUED, STARTING, STARTED, "
        "SUCCESS, FAILURE, CANCELING, CANCELED, ...",
    )
    finished: bool = Field(description="True once the run can no longer change")


class WatchlistEntry(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"])
    ticker: str | None = Field(default=None, examples=["AAPL"])
    cik: str | None = Field(default=None, examples=["0000320193"])
    dart_corp_code: str | None = Field(default=None, examples=[None])
    added_at: UtcDateTime
    added_by: str | None = Field(default=None, examples=["ops-team"])


class WatchlistAdd(BaseModel):
    """One identifier: a ticker of a company in the universe, a CIK or a DART corp code."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "minProperties": 1,
            "examples": [{"ticker": "AAPL"}, {"dart_corp_code": "00126380"}],
        },
    )

    ticker: str = Field(default=None, min_length=1, max_length=16, pattern=r"^[A-Za-z0-9.\-]+$")
    cik: str = Field(default=None, pattern=r"^[0-9]{1,10}$")
    dart_corp_code: str = Field(default=None, pattern=r"^[0-9]{8}$")

    @model_validator(mode="after")
    def _one_identifier(self) -> WatchlistAdd:
        if not (self.ticker or self.cik or self.dart_corp_code):
            raise ValueError("give a ticker (of a company in the universe), a CIK or a DART corp code")
        return self


class WatchlistList(BaseModel):
    items: list[WatchlistEntry]
