"""Jupyter's own record of activity: whether a kernel is busy, and when a kernel or a
terminal last did something. One source of idle evidence for Jupyter workspaces."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx

# (workspace URL, token) -> (a kernel is busy now, the last kernel or terminal activity);
# raises when Jupyter cannot be read.
JupyterReader = Callable[[str, str], Awaitable[tuple[bool, datetime | None]]]


async def read_jupyter_activity(url: str, token: str) -> tuple[bool, datetime | None]:
    """Whether a kernel is busy, and the last kernel or terminal activity (None: none yet).

    ``no_track_activity`` keeps these reads from counting as activity themselves. Raises
    httpx.HTTPError or ValueError when Jupyter cannot be read.
    """
    headers = {"Authorization": f"token {token}"}
    params = {"no_track_activity": "1"}
    latest: datetime | None = None
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=5.0) as http:
        for path in ("api/kernels", "api/terminals"):
            response = await http.get(path, params=params)
            if path == "api/terminals" and response.status_code == 404:
                continue  # terminals disabled
            response.raise_for_status()
            for item in response.json():
                if item.get("execution_state") == "busy":
                    return True, latest
                stamp = item.get("last_activity")
                if stamp:
                    moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
                    latest = moment if latest is None else max(latest, moment)
    return False, latest
