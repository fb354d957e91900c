"""Current source freshness from the dbt platform's Discovery (metadata) API.

An environment's *applied* state holds, per source, the freshness its jobs last measured
(``maxLoadedAt``, ``maxLoadedAtTimeAgoInS``, ``freshnessStatus``). That is what the planner needs as
current freshness when production runs on the platform: ``freshlens freshness pull dbt-platform
--environment-id E`` writes it to ``.freshlens/current/sources.json`` (the file every plan reads), and
``--sources dbt-platform`` on ``plan`` / ``explain`` / the editor's ``sources`` setting reads it directly.

The query (POST ``{metadata URL}`` with ``Authorization: Bearer <token>``)::

    environment(id: $environmentId) { applied { sources(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges { node { uniqueId name sourceName freshness { maxLoadedAt maxLoadedAtTimeAgoInS freshnessStatus } } }
    } } }

paged until ``hasNextPage`` is false. The metadata URL is derived from the access URL
(``cloud.getdbt.com`` → ``metadata.cloud.getdbt.com``; ``ACCOUNT.REGION.dbt.com`` →
``ACCOUNT.metadata.REGION.dbt.com``) or given. Retries and refusals are the Administrative API's
(:func:`freshlens.platform.client.send_retrying`); GraphQL ``errors`` become one clear message.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from freshlens.platform import DEFAULT_HOST
from freshlens.platform.client import ApiClient, PlatformError
from freshlens.state.artifacts import parse_timestamp
from freshlens.state.freshness import ERROR, MEASURED, UNKNOWN, SourceFreshnessNow

PAGE = 500
QUERY = """
query FreshlensSourceFreshness($environmentId: BigInt!, $first: Int, $after: String) {
  environment(id: $environmentId) {
    applied {
      sources(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges {
          node {
            uniqueId
            name
            sourceName
            freshness { maxLoadedAt maxLoadedAtTimeAgoInS freshnessStatus }
          }
        }
      }
    }
  }
}
"""


def metadata_url(host: str) -> str:
    """The Discovery API endpoint of an account's access URL (see the module docs)."""
    if "://" not in host:
        host = "https://" + host
    u = urlparse(host)
    name = u.hostname or ""
    if name == urlparse(DEFAULT_HOST).hostname:
        meta = "metadata." + name
    elif name.endswith(".dbt.com") and name.count(".") >= 3:
        account, rest = name.split(".", 1)
        meta = f"{account}.metadata.{rest}"
    else:
        meta = name if name.startswith("metadata.") else "metadata." + name
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{meta}{port}/graphql"


class DiscoveryClient(ApiClient):
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.where = f"dbt platform Discovery API at {url}"
        super().__init__(
            {"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            sleep=sleep,
        )

    def _refused(self, status: int, what: str) -> str:
        where = self.where
        if status in (401, 403):
            return (
                f"{where}: the token in DBT_CLOUD_API_TOKEN was refused ({status}) while {what}. The Discovery "
                "API takes a service token with the Metadata Only (or Read-only) permission, or a personal "
                "access token; check --metadata-url for multi-cell and single-tenant accounts."
            )
        return f"{where}: HTTP {status} while {what}; check --metadata-url and --environment-id."

    def _post(self, variables: dict[str, Any], what: str) -> dict[str, Any]:
        resp = self._send(
            lambda: self._http.post(self.url, json={"query": QUERY, "variables": variables}),
            what,
            then="Try again later; the previous current freshness is kept.",
        )
        assert resp is not None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PlatformError(
                f"Discovery API at {self.url}: {what} did not return JSON; check --metadata-url."
            )
        errors = body.get("errors")
        if errors:
            first = errors[0].get("message") if isinstance(errors[0], dict) else str(errors[0])
            raise PlatformError(
                f"Discovery API at {self.url}: {what} was refused: {first}. Check --environment-id and "
                "that the token may read this environment's metadata."
            )
        return body

    def sources(self, environment_id: str) -> list[dict[str, Any]]:
        """Every source node of the environment's applied state, page by page."""
        what = f"reading the sources of environment {environment_id}"
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            body = self._post({"environmentId": int(environment_id), "first": PAGE, "after": after}, what)
            try:
                page = body["data"]["environment"]["applied"]["sources"]
                edges, info = page["edges"], page.get("pageInfo") or {}
            except (KeyError, TypeError):
                raise PlatformError(
                    f"Discovery API at {self.url}: {what} gave no sources (is environment {environment_id} "
                    "deployed, with a job that ran?)"
                ) from None
            out.extend(e["node"] for e in edges if isinstance(e, dict) and isinstance(e.get("node"), dict))
            cursor = info.get("endCursor")
            if not info.get("hasNextPage") or not cursor or cursor == after:
                return out
            after = cursor


def freshness_now(nodes: list[dict[str, Any]], at: datetime | None = None) -> dict[str, SourceFreshnessNow]:
    """What the planner reads, from the Discovery API's source nodes."""
    out: dict[str, SourceFreshnessNow] = {}
    for n in nodes:
        uid = n.get("uniqueId")
        if not isinstance(uid, str):
            continue
        f = n.get("freshness") if isinstance(n.get("freshness"), dict) else {}
        assert isinstance(f, dict)
        status = str(f.get("freshnessStatus") or "").lower() or None
        loaded = parse_timestamp(f["maxLoadedAt"]) if isinstance(f.get("maxLoadedAt"), str) else None
        if loaded is not None:
            out[uid] = SourceFreshnessNow(uid, loaded, MEASURED, "", status)
        elif status in ("error", "runtime error"):
            out[uid] = SourceFreshnessNow(
                uid,
                None,
                ERROR,
                "the platform's last freshness check of it failed; treated as updated (D6.2)",
                status,
            )
        else:
            out[uid] = SourceFreshnessNow(
                uid, None, UNKNOWN, "the platform has no freshness for it; treated as updated (D6.2)", status
            )
    return out


def write_sources_json(
    nodes: list[dict[str, Any]], path: str, environment_id: str, at: datetime | None = None
) -> int:
    """The sources as a ``sources.json`` (v3 shape), written atomically; returns how many were measured."""
    now = (at or datetime.now(UTC)).astimezone(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    results = []
    for uid, fr in sorted(freshness_now(nodes, now).items()):
        if fr.max_loaded_at is None:
            continue  # as dbt-core 1.11 does: an unmeasured source is left out (D6.2 on reading)
        ago = (now - fr.max_loaded_at).total_seconds()
        results.append(
            {
                "unique_id": uid,
                "max_loaded_at": fr.max_loaded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "snapshotted_at": stamp,
                "max_loaded_at_time_ago_in_s": ago,
                "status": fr.check_status or "pass",
                "criteria": {},
                "adapter_response": {},
                "timing": [],
                "thread_id": "discovery-api",
                "execution_time": 0.0,
            }
        )
    doc = {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/sources/v3.json",
            "dbt_version": "dbt-platform",
            "generated_at": stamp,
            "invocation_id": f"dbt-platform-discovery-{environment_id}-{stamp}",
            "env": {},
        },
        "results": results,
        "elapsed_time": 0.0,
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sources-", dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return len(results)


TOKEN_ENV = "DBT_CLOUD_API_TOKEN"


class NotConfigured(PlatformError):
    """The token or the environment is missing: what to set (a usage error, not the platform's)."""


def discovery_from_env(
    environment_id: str = "", host: str = "", metadata: str = "", timeout: float = 30.0, retries: int = 5
) -> tuple[str, DiscoveryClient]:
    """The environment and a client from the arguments, else ``DBT_CLOUD_ENVIRONMENT_ID``,
    ``DBT_CLOUD_HOST``, ``DBT_CLOUD_METADATA_URL``; the token only from ``DBT_CLOUD_API_TOKEN``."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise NotConfigured(
            f"set {TOKEN_ENV} to a dbt platform service token (Metadata Only or Read-only) or a personal "
            "access token; freshlens never takes it on the command line"
        )
    env_id = str(environment_id or os.environ.get("DBT_CLOUD_ENVIRONMENT_ID", "")).strip()
    if not env_id.isdigit():
        raise NotConfigured(
            "give the deployment environment: --environment-id or set DBT_CLOUD_ENVIRONMENT_ID "
            "(its number, from the environment's URL in the dbt platform)"
        )
    url = (
        metadata
        or os.environ.get("DBT_CLOUD_METADATA_URL", "")
        or metadata_url(host or os.environ.get("DBT_CLOUD_HOST", "") or DEFAULT_HOST)
    )
    return env_id, DiscoveryClient(url, token, timeout=timeout, retries=retries)
