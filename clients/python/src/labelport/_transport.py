"""One connection to the service: gRPC (cleartext HTTP/2, or TLS for https URLs) for the
services, plain HTTP for the developer exports API's by-name lookups and for download links.
Every call carries the API key and turns failures into labelport.errors classes."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TypeVar
from urllib.parse import urlsplit

import grpc

from labelport.errors import UnavailableError, from_http_error, from_rpc_error

T = TypeVar("T")

# The server's default RPC_MAX_MESSAGE_BYTES.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024


class Transport:
    def __init__(self, url: str, api_key: Optional[str], timeout: Optional[float]) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: expected http://host:port or https://host:port, got {url!r}")
        self.base_url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = f"{parts.hostname}:{port}"
        options = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ]
        if parts.scheme == "https":
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options)
        else:
            self.channel = grpc.insecure_channel(target, options)
        self.metadata = (("x-api-key", api_key),) if api_key else ()

    def close(self) -> None:
        self.channel.close()

    def unary(self, method: Callable[..., T], request: Any, timeout: Optional[float] = None) -> T:
        try:
            return method(request, metadata=self.metadata, timeout=timeout or self.timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def stream(self, method: Callable[..., Iterator[T]], request: Any, timeout: Optional[float] = None) -> Iterator[T]:
        """A server stream; `timeout` bounds the whole stream (None: no limit)."""
        try:
            yield from method(request, metadata=self.metadata, timeout=timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def rest_json(self, method: str, path: str) -> Any:
        """A developer exports API route; its JSON body, or None when it has none (204)."""
        headers = {"accept": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        request = urllib.request.Request(self.base_url + path, method=method, headers=headers)
        with self._open(request) as response:
            body = response.read()
        return json.loads(body) if body else None

    def download(self, url: str, path: Path) -> int:
        """Streams a signed download link to `path` (via `path.partial`); returns the bytes written."""
        partial = path.with_name(path.name + ".partial")
        try:
            with self._open(urllib.request.Request(url)) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out, 1024 * 1024)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return path.stat().st_size

    def _open(self, request: urllib.request.Request) -> Any:
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            body = err.read().decode("utf-8", "replace")
            try:
                message = json.loads(body).get("message") or body
            except (ValueError, AttributeError):
                message = body
            raise from_http_error(err.code, message or f"HTTP {err.code}") from None
        except urllib.error.URLError as err:
            raise UnavailableError(f"{request.full_url}: {err.reason}") from None
