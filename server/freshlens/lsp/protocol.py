"""The JSON-RPC protocol of the language server, with a fix for pygls' notification futures.

pygls 2.1 keeps the future of every handler it runs in ``_request_futures``, keyed by the message
id. A request's future is removed when its response is sent; a notification's (didChange, didOpen,
didChangeWatchedFiles …, which get a random id, twice when a built-in handler hands over to ours)
is never removed. Each one holds its finished task with the notification's parameters — the full
text for a didOpen — so the server grew by a few kilobytes per edit, for good (issue 12, found by
tests/lsp/test_soak.py). Here every handler's future is dropped once it is done.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from pygls.protocol import LanguageServerProtocol


class FreshlensProtocol(LanguageServerProtocol):
    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(lambda done: self._forget(msg_id, done))

    def _forget(self, msg_id: Any, done: Future[Any] | Any) -> None:
        if self._request_futures.get(msg_id) is done:
            del self._request_futures[msg_id]
