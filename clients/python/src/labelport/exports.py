"""Export jobs. An export is addressed by its id, or — as the developer exports API addresses it —
by its dataset's name and its own name (`get("street-scenes", "Training Export v1")`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Union
from urllib.parse import quote

from google.protobuf.struct_pb2 import Struct

from labelport._transport import Transport
from labelport.datasets import Datasets
from labelport.errors import ExportFailedError, InvalidArgumentError
from labelport.v1 import export_service_pb2 as pb
from labelport.v1.dataset_pb2 import ItemFilter, ItemStatus
from labelport.v1.export_pb2 import Export, ExportStatus, PluginInfo
from labelport.v1.export_service_pb2_grpc import ExportServiceStub

# The developer exports API's default format.
DEFAULT_FORMAT = "coco"
DEVELOPER_EXPORTS_PATH = "/api/v1/developer/exports"


# The developer exports API's status_filter names.
_ITEM_STATUSES = {
    "complete": ItemStatus.ITEM_STATUS_APPROVED,
    "approved": ItemStatus.ITEM_STATUS_APPROVED,
    "draft": ItemStatus.ITEM_STATUS_DRAFT,
    "in_review": ItemStatus.ITEM_STATUS_IN_REVIEW,
    "rejected": ItemStatus.ITEM_STATUS_REJECTED,
}


def _apply_status_filter(selected: ItemFilter, status_filter: str) -> None:
    names = [n.strip().lower().replace("-", "_").replace(" ", "_") for n in status_filter.split(",")]
    names = [n for n in names if n]
    if "all" in names:
        selected.all_statuses = True
        return
    for name in names:
        if name not in _ITEM_STATUSES:
            raise InvalidArgumentError(
                f'status_filter: unknown status "{name}"; use complete (approved), draft, in_review, rejected or all'
            )
        if _ITEM_STATUSES[name] not in selected.statuses:
            selected.statuses.append(_ITEM_STATUSES[name])


def _developer_path(dataset_name: str, name: str) -> str:
    return f"{DEVELOPER_EXPORTS_PATH}/{quote(dataset_name, safe='')}/{quote(name, safe='')}"


class Exports:
    def __init__(self, transport: Transport, datasets: Datasets) -> None:
        self._t = transport
        self._datasets = datasets
        self._stub = ExportServiceStub(transport.channel)

    def create(
        self,
        dataset_name: Optional[str] = None,
        name: str = "",
        *,
        dataset_id: Optional[str] = None,
        format: str = DEFAULT_FORMAT,
        include_images: bool = False,
        class_filter: Iterable[str] = (),
        status_filter: Optional[str] = None,
        description: str = "",
        filter: Optional[ItemFilter] = None,
        options: Optional[Mapping[str, Any]] = None,
        storage: str = "",
        path: str = "",
        request_id: str = "",
        wait: bool = False,
        timeout: Optional[float] = None,
    ) -> Export:
        """Starts an export of a dataset (by `dataset_name` or `dataset_id`). With `wait=True`, returns
        the finished export, or raises ExportFailedError if it failed or was canceled; `timeout`
        bounds the wait (DeadlineExceededError).

        As in the developer exports API: `include_images` copies the media, `class_filter` keeps
        annotations of these category names, `status_filter` selects items by status ("complete",
        "draft", "in_review", "rejected", comma-separated, or "all"; default: complete only). Both
        narrow `filter` when it is given too."""
        dataset = dataset_id or dataset_name
        if not dataset:
            raise ValueError("create: dataset_name (or dataset_id) is required")
        selected = ItemFilter()
        if filter is not None:
            selected.CopyFrom(filter)
        class_names = list(class_filter)
        if class_names:
            selected.category_ids.extend(self._category_ids(dataset, class_names))
        if status_filter is not None:
            _apply_status_filter(selected, status_filter)
        struct = None
        if options:
            struct = Struct()
            struct.update(dict(options))
        request = pb.CreateExportRequest(
            request_id=request_id,
            name=name,
            description=description,
            dataset_id=dataset,
            format=format,
            filter=selected,
            storage=storage,
            path=path,
            save_original_file=include_images,
            options=struct,
        )
        created = self._t.unary(self._stub.CreateExport, request).export
        return self.wait(created.id, timeout=timeout) if wait else created

    def _category_ids(self, dataset: str, class_names: List[str]) -> List[int]:
        categories = self._datasets.get(dataset).categories
        by_name = {c.name: c.id for c in categories}
        unknown = [n for n in class_names if n not in by_name]
        if unknown:
            raise InvalidArgumentError(
                f'class_filter: unknown class "{unknown[0]}" in dataset "{dataset}" '
                f"(classes: {', '.join(by_name) or 'none'})"
            )
        return sorted({by_name[n] for n in class_names})

    def wait(self, export_id: str, *, timeout: Optional[float] = None) -> Export:
        """Follows an export until it ends; returns it completed or raises ExportFailedError."""
        last: Optional[Export] = None
        for change in self._t.stream(self._stub.WatchExport, pb.WatchExportRequest(export_id=export_id), timeout):
            last = change.export
        if last is None:
            raise ExportFailedError(Export(id=export_id, error_message="the server sent no status"))
        if last.status != ExportStatus.EXPORT_STATUS_COMPLETED:
            raise ExportFailedError(last)
        return last

    def id_of(self, dataset_name: str, name: str) -> str:
        """The id of export `name` of dataset `dataset_name` (NotFoundError if there is none)."""
        return str(self._t.rest_json("GET", _developer_path(dataset_name, name))["id"])

    def _id(self, export: Union[str, Export], name: Optional[str]) -> str:
        if isinstance(export, Export):
            return export.id
        return self.id_of(export, name) if name is not None else export

    def get(self, export: Union[str, Export], name: Optional[str] = None) -> Export:
        """`get(export_id)` or `get(dataset_name, export_name)`."""
        export_id = self._id(export, name)
        return self._t.unary(self._stub.GetExport, pb.GetExportRequest(export_id=export_id)).export

    def list(self, dataset_name: Optional[str] = None, *, statuses: Iterable[ExportStatus] = ()) -> List[Export]:
        """Exports, newest first; of one dataset (id or name) when given."""
        exports: List[Export] = []
        token = ""
        while True:
            request = pb.ListExportsRequest(dataset_id=dataset_name or "", statuses=list(statuses), page_size=500,
                                            page_token=token)
            page = self._t.unary(self._stub.ListExports, request)
            exports.extend(page.exports)
            token = page.next_page_token
            if not token:
                return exports

    def download(self, export: Union[str, Export], name: Optional[str] = None, *,
                 path: Union[str, Path, None] = None, artifact_key: str = "") -> Path:
        """Writes the export (its single file, or a ZIP of all its files) to `path` — by default its
        file name in the current directory — and returns the path. `download(export_id, path=...)` or
        `download(dataset_name, export_name, path=...)`."""
        export_id = self._id(export, name)
        request = pb.GetExportDownloadRequest(export_id=export_id, artifact_key=artifact_key)
        link = self._t.unary(self._stub.GetExportDownload, request)
        target = Path(path) if path is not None else Path.cwd() / (link.file_name or f"{export_id}.zip")
        self._t.download(link.download_url, target)
        return target

    def cancel(self, export: Union[str, Export], name: Optional[str] = None) -> Export:
        export_id = self._id(export, name)
        return self._t.unary(self._stub.CancelExport, pb.CancelExportRequest(export_id=export_id)).export

    def delete(self, export: Union[str, Export], name: Optional[str] = None) -> None:
        """By name, through the developer exports API: an admin's key, or the key that created the
        export. By id (DeleteExport): an admin's key."""
        if name is not None and not isinstance(export, Export):
            self._t.rest_json("DELETE", _developer_path(export, name))
            return
        export_id = self._id(export, name)
        self._t.unary(self._stub.DeleteExport, pb.DeleteExportRequest(export_id=export_id))

    def formats(self) -> List[PluginInfo]:
        """The exporter plugins running now, with their formats."""
        return list(self._t.unary(self._stub.ListFormats, pb.ListFormatsRequest()).plugins)
