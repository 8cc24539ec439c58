"""Time formats of each system (fact sheet §7) and deterministic ids."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))  # the simulated servers run in Asia/Shanghai


def ms(t: float | None) -> int | None:
    return None if t is None else round(t * 1000)


def cst_space(t: float | None, unset: str | None = None) -> str | None:
    """SOPS/BKFlow tree: '2024-05-01 10:02:03 +0800'."""
    if t is None:
        return unset
    return datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d %H:%M:%S %z")


def cst_nospace(t: float | None) -> str | None:
    """NodeMan v2: '2021-09-16 15:06:03+0800'."""
    return None if t is None else datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d %H:%M:%S%z")


def cst_naive(t: float | None) -> str | None:
    """NodeMan v1: no timezone."""
    return None if t is None else datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d %H:%M:%S")


def utc_str(t: float | None) -> str | None:
    """GSEKit: str(datetime) in UTC, microseconds only when non-zero."""
    return None if t is None else str(datetime.fromtimestamp(t, UTC))


def iso_ms_z(t: float) -> str:
    """SOPS engine v1 state_refresh_at."""
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def hex_id(rng: random.Random, prefix: str = "n") -> str:
    return prefix + f"{rng.getrandbits(124):031x}"[:31]
