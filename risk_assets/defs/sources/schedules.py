"""Schedules: macro indicators and equity prices refresh daily (off by default, like every instigator here, so
`dagster dev` on the embedded default starts nothing on its own; turn them on in a live deployment)."""

import dagster as dg

from risk_assets.defs.jobs import refresh_market

refresh_market_daily = dg.ScheduleDefinition(
    name="refresh_market_daily",
    job=refresh_market,
    cron_schedule="0 7 * * *",  # 07:00 UTC: after the US close and FRED's morning releases, after Seoul's close
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Refresh macro indicators (FRED, ECOS) and daily equity prices; downstream market features, "
    "features and scores follow through the follow_new_filings automation sensor when it is on.",
)
