"""The JSON-RPC protocol of the language server, with a fix for pygls' notification futures.

pygls 2.1 keeps the future of every handler it runs in ``_request_futures``, keyed by the message
id. A request's future is removed when its response is sent; a notification's (didChange, didOpen,
didChangeWatchedFiles …, which get a random id, twice when a built-in handler hands over to ours)
is never removed. Each one holds its finished task with the notification's parameters — the full
text for a didOpen — so the server grew by a few kilobytes per edit, for good (found by
tests/lsp/test_soak.py). Here the finished futures are dropped before each message is handled.

Not from a done-callback: pygls cancels the pending futures at shutdown by iterating over that
dict, and a callback that removes entries would change it during the iteration.

Also: a didChange for a document the editor never opened cannot be applied (there is no text to
apply it to). pygls failed on it with a KeyError, logged as an internal error with a traceback; it is
now ignored with a warning that says so, and the file stays as it is on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger("freshlens.lsp")


class FreshlensProtocol(LanguageServerProtocol):
    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        # A finished future needs no entry: its response (if any) is sent by its own callback, and
        # a cancel for it has nothing left to cancel. Only the handlers in flight stay.
        for key, future in list(self._request_futures.items()):
            if future.done():
                self._request_futures.pop(key, None)
        super()._execute_handler(msg_id, handler, callback, args, kwargs)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        uri = params.text_document.uri
        if unquote(uri) not in self.workspace.text_documents:
            log.warning("ignoring a change to %s: the editor sent it without opening the document first", uri)
            return
        yield from super().lsp_text_document__did_change(params)
