"""Query and path parameters shared by routers, with their bounds (so no value reaches SQL unchecked).

Dates and booleans are parsed strictly: pydantic's lax mode would read `as_of=0` as 1970-01-01 and `yes` as
true, which the OpenAPI schema (format: date, type: boolean) does not promise.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


def _strict_bool(value: Any) -> Any:
    if isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise ValueError("expected true or false")
        return value.lower() == "true"
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
StrictBool = Annotated[bool, BeforeValidator(_strict_bool)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip")]
ModelVersionQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=16,
        description="A model version; default: the version of the newest snapshot",
        examples=["1"],
    ),
]
