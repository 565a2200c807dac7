"""Imports of annotation files (the video annotation JSONL, a JSON array of it, or the lossless
labelport-items JSONL), streamed in chunks; `preview` runs the same checks and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Iterator, List, Optional, Union

from labelport._transport import Transport
from labelport.v1 import import_service_pb2 as pb
from labelport.v1.import_service_pb2_grpc import ImportServiceStub

# A path, the file's bytes, or a binary file object.
Source = Union[str, Path, bytes, IO[bytes]]

CHUNK_BYTES = 1024 * 1024


def _read_chunks(source: Source) -> Iterator[bytes]:
    if isinstance(source, bytes):
        for start in range(0, len(source), CHUNK_BYTES):
            yield source[start : start + CHUNK_BYTES]
    elif isinstance(source, (str, Path)):
        with open(source, "rb") as file:
            yield from iter(lambda: file.read(CHUNK_BYTES), b"")
    else:
        yield from iter(lambda: source.read(CHUNK_BYTES), b"")


def _file_name(source: Source, file_name: Optional[str]) -> str:
    if file_name:
        return file_name
    if isinstance(source, (str, Path)):
        return Path(source).name
    return str(getattr(source, "name", "") or "upload.jsonl")


class Imports:
    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._stub = ImportServiceStub(transport.channel)

    def _start(self, source: Source, dataset: str, format: str, file_name: Optional[str],
               options: Optional[pb.ImportOptions]) -> pb.ImportStart:
        return pb.ImportStart(dataset_id=dataset, file_name=_file_name(source, file_name), format=format,
                              options=options)

    def create(self, source: Source, *, dataset: str = "", format: str = "jsonl", file_name: Optional[str] = None,
               options: Optional[pb.ImportOptions] = None) -> pb.ImportResponse:
        """Imports `source` into `dataset` (id or name; empty: the default dataset). Line errors come
        back in the response (`success`, `errors`, `warnings`), not as exceptions."""
        start = self._start(source, dataset, format, file_name, options)

        def requests() -> Iterator[pb.ImportRequest]:
            yield pb.ImportRequest(start=start)
            for chunk in _read_chunks(source):
                yield pb.ImportRequest(chunk=chunk)

        return self._t.unary(self._stub.Import, requests())

    def preview(self, source: Source, *, dataset: str = "", format: str = "jsonl", file_name: Optional[str] = None,
                options: Optional[pb.ImportOptions] = None) -> pb.PreviewImportResponse:
        """What `create` would import (counts, conflicts, warnings, errors), without writing."""
        start = self._start(source, dataset, format, file_name, options)

        def requests() -> Iterator[pb.PreviewImportRequest]:
            yield pb.PreviewImportRequest(start=start)
            for chunk in _read_chunks(source):
                yield pb.PreviewImportRequest(chunk=chunk)

        return self._t.unary(self._stub.PreviewImport, requests())

    def list(self, *, dataset: str = "", limit: int = 50, offset: int = 0) -> List[pb.ImportRecord]:
        request = pb.ListImportsRequest(dataset_id=dataset, limit=limit, offset=offset)
        return list(self._t.unary(self._stub.ListImports, request).imports)

    def get(self, import_id: str) -> pb.ImportRecord:
        return getattr(self._t.unary(self._stub.GetImport, pb.GetImportRequest(import_id=import_id)), "import")
