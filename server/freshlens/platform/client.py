"""A small client for the dbt platform's Administrative API v2, on httpx.

Endpoints used (https://docs.getdbt.com/dbt-cloud/api-v2):

* ``GET {host}/api/v2/accounts/{account}/runs/`` with ``job_definition_id`` or ``environment_id``,
  ``order_by=-id``, ``limit`` (at most 100) / ``offset`` paging and ``include_related=["run_steps"]``;
  the answer is ``{"data": [run, …], "extra": {"pagination": {"count", "total_count"}}}``.
* ``GET {host}/api/v2/accounts/{account}/runs/{run}/artifacts/{name}?step=N``: one artifact of one step
  (the first step of a run has index 1; without ``step`` the last step's); 404 when the step has none.

Authentication is ``Authorization: Token <token>``. 429 and 5xx answers and timeouts are retried with
exponential backoff, honouring ``Retry-After``; 401/403/404 become a :class:`PlatformError` that says what
to check. The token is never part of a message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx

from freshlens.state import StateError

PAGE = 100  # the most the API returns per request
MAX_RETRY_AFTER_S = 120.0
PULL_AGAIN = "Try again later; runs pulled so far are kept and the next pull continues from there."


class PlatformError(StateError):
    """The dbt platform refused or failed a request; the message says what to check."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    v = value.strip()
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def send_retrying(
    send: Callable[[], httpx.Response],
    *,
    what: str,
    where: str,
    refused: Callable[[int, str], str],
    retries: int,
    backoff: float,
    timeout: float,
    sleep: Callable[[float], None],
    missing_ok: bool = False,
    then: str = PULL_AGAIN,
) -> httpx.Response | None:
    """``send()`` until it is answered: 429, 5xx, timeouts and connection errors are retried with
    exponential backoff (``Retry-After`` honoured, capped); another 4xx raises ``refused(status, what)``;
    a 404 is None with ``missing_ok``."""
    attempt = 0
    while True:
        try:
            resp = send()
        except httpx.TimeoutException:
            problem = f"no answer within {timeout:g} s"
            delay = None
        except httpx.TransportError as exc:
            problem = f"cannot connect ({type(exc).__name__})"
            delay = None
        else:
            if resp.status_code == 404 and missing_ok:
                return None
            if resp.status_code < 400:
                return resp
            if resp.status_code != 429 and resp.status_code < 500:
                raise PlatformError(refused(resp.status_code, what))
            problem = f"HTTP {resp.status_code}"
            delay = retry_after_seconds(resp.headers.get("Retry-After"))
        if attempt >= retries:
            raise PlatformError(f"{where}: {what} failed after {attempt + 1} attempt(s) ({problem}). {then}")
        if delay is None:
            delay = backoff * (2**attempt)
        sleep(min(delay, MAX_RETRY_AFTER_S))
        attempt += 1


class ApiClient:
    """What the platform's clients share: one httpx client carrying the token, the retry settings, and
    sending through :func:`send_retrying` with the client's own ``where`` and refusal messages."""

    where = "dbt platform"  # how messages name the API; each client says which one and where

    def __init__(
        self,
        headers: dict[str, str],
        *,
        base_url: str = "",
        timeout: float,
        retries: int,
        backoff: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.timeout, self.retries, self.backoff, self._sleep = timeout, retries, backoff, sleep
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refused(self, status: int, what: str) -> str:
        return f"{self.where}: HTTP {status} while {what}"

    def _send(
        self,
        send: Callable[[], httpx.Response],
        what: str,
        *,
        missing_ok: bool = False,
        then: str = PULL_AGAIN,
    ) -> httpx.Response | None:
        return send_retrying(
            send,
            what=what,
            where=self.where,
            refused=self._refused,
            retries=self.retries,
            backoff=self.backoff,
            timeout=self.timeout,
            sleep=self._sleep,
            missing_ok=missing_ok,
            then=then,
        )


class PlatformClient(ApiClient):
    """Administrative API v2 for one account. ``host`` is the account's access URL."""

    def __init__(
        self,
        host: str,
        account_id: str,
        token: str,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if "://" not in host:
            host = "https://" + host
        self.host = host.rstrip("/")
        self.account_id = account_id
        self.where = f"dbt platform at {self.host}"
        super().__init__(
            {"Authorization": f"Token {token}", "Accept": "application/json"},
            base_url=f"{self.host}/api/v2/accounts/{account_id}",
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            sleep=sleep,
        )
        self.page_size = PAGE

    # ------------------------------------------------------------------------------------ requests

    def _get(
        self, path: str, params: dict[str, str | int], what: str, missing_ok: bool = False
    ) -> httpx.Response | None:
        return self._send(lambda: self._http.get(path, params=params), what, missing_ok=missing_ok)

    def _refused(self, status: int, what: str) -> str:
        where = f"dbt platform at {self.host}, account {self.account_id}"
        if status == 401:
            return (
                f"{where}: the token in DBT_CLOUD_API_TOKEN was not accepted (401) while {what}. Create a "
                "service token (Job Viewer permission or above) or a personal access token for this account, "
                "and check DBT_CLOUD_HOST is the account's access URL."
            )
        if status == 403:
            return (
                f"{where}: the token may not read this (403) while {what}. Give the service token Job Viewer "
                "(or Read-only) permission on the job's project."
            )
        if status == 404:
            return (
                f"{where}: not found (404) while {what}. Check --account-id, --job-id / --environment-id, and "
                "--host (multi-cell and single-tenant accounts have their own access URL, shown in Account "
                "settings)."
            )
        return f"{where}: HTTP {status} while {what}."

    def _json(self, resp: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PlatformError(f"dbt platform at {self.host}: {what} did not return JSON; check --host.")
        return body

    # ------------------------------------------------------------------------------------ endpoints

    def runs(
        self, *, job_id: str | None, environment_id: str | None, after_id: int
    ) -> Iterator[dict[str, Any]]:
        """The runs of a job (or environment) with an id above ``after_id``, newest first, page by page."""
        params: dict[str, str | int] = {
            "order_by": "-id",
            "limit": self.page_size,
            "include_related": '["run_steps"]',
        }
        if job_id:
            params["job_definition_id"] = job_id
        if environment_id:
            params["environment_id"] = environment_id
        what = f"listing the runs of {'job ' + job_id if job_id else 'environment ' + str(environment_id)}"
        offset = 0
        while True:
            resp = self._get("/runs/", {**params, "offset": offset}, what)
            assert resp is not None
            body = self._json(resp, what)
            page = body.get("data")
            if not isinstance(page, list):
                raise PlatformError(
                    f"dbt platform at {self.host}: {what} returned no run list; check --host."
                )
            for run in page:
                if not isinstance(run, dict) or not isinstance(run.get("id"), int):
                    continue
                if run["id"] <= after_id:
                    return
                yield run
            pagination = (body.get("extra") or {}).get("pagination") or {}
            total = pagination.get("total_count")
            offset += len(page)
            if not page or (isinstance(total, int) and offset >= total):
                return

    def artifact(self, run_id: int, name: str, step: int | None) -> bytes | None:
        """One artifact of a run (of ``step``, or of the last step); None when that step has none."""
        params: dict[str, str | int] = {} if step is None else {"step": step}
        what = f"downloading {name} of run {run_id}" + ("" if step is None else f" step {step}")
        resp = self._get(f"/runs/{run_id}/artifacts/{name}", params, what, missing_ok=True)
        return None if resp is None else resp.content
