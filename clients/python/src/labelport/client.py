"""The entry point: `Client(url, api_key)` with `datasets`, `imports` and `exports`."""

from __future__ import annotations

import os
from typing import Any, Optional

from labelport._transport import Transport
from labelport.datasets import Datasets
from labelport.exports import Exports
from labelport.imports import Imports

DEFAULT_URL = "http://127.0.0.1:8080"


class Client:
    """A Labelport client. `url` defaults to $LABELPORT_URL (else http://127.0.0.1:8080) and
    `api_key` to $LABELPORT_API_KEY; `timeout` (seconds) bounds each call except waits."""

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, *,
                 timeout: Optional[float] = 60.0) -> None:
        url = url or os.environ.get("LABELPORT_URL") or DEFAULT_URL
        api_key = api_key if api_key is not None else os.environ.get("LABELPORT_API_KEY")
        self._transport = Transport(url, api_key or None, timeout)
        self.datasets = Datasets(self._transport)
        self.imports = Imports(self._transport)
        self.exports = Exports(self._transport, self.datasets)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
