import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labelport.v1 import dataset_pb2 as _dataset_pb2
from labelport.v1 import export_pb2 as _export_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateExportRequest(_message.Message):
    __slots__ = ("request_id", "name", "description", "dataset_id", "format", "filter", "storage", "path", "save_original_file", "options", "version_id", "target", "shards")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SAVE_ORIGINAL_FILE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    description: str
    dataset_id: str
    format: str
    filter: _dataset_pb2.ItemFilter
    storage: str
    path: str
    save_original_file: bool
    options: _struct_pb2.Struct
    version_id: str
    target: str
    shards: int
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., dataset_id: _Optional[str] = ..., format: _Optional[str] = ..., filter: _Optional[_Union[_dataset_pb2.ItemFilter, _Mapping]] = ..., storage: _Optional[str] = ..., path: _Optional[str] = ..., save_original_file: _Optional[bool] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., version_id: _Optional[str] = ..., target: _Optional[str] = ..., shards: _Optional[int] = ...) -> None: ...

class CreateExportResponse(_message.Message):
    __slots__ = ("export",)
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    export: _export_pb2.Export
    def __init__(self, export: _Optional[_Union[_export_pb2.Export, _Mapping]] = ...) -> None: ...

class GetExportRequest(_message.Message):
    __slots__ = ("export_id",)
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    def __init__(self, export_id: _Optional[str] = ...) -> None: ...

class GetExportResponse(_message.Message):
    __slots__ = ("export",)
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    export: _export_pb2.Export
    def __init__(self, export: _Optional[_Union[_export_pb2.Export, _Mapping]] = ...) -> None: ...

class ListExportsRequest(_message.Message):
    __slots__ = ("dataset_id", "statuses", "page_size", "page_token", "formats")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FORMATS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    statuses: _containers.RepeatedScalarFieldContainer[_export_pb2.ExportStatus]
    page_size: int
    page_token: str
    formats: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_export_pb2.ExportStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., formats: _Optional[_Iterable[str]] = ...) -> None: ...

class ListExportsResponse(_message.Message):
    __slots__ = ("exports", "next_page_token", "total_count")
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    exports: _containers.RepeatedCompositeFieldContainer[_export_pb2.Export]
    next_page_token: str
    total_count: int
    def __init__(self, exports: _Optional[_Iterable[_Union[_export_pb2.Export, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_count: _Optional[int] = ...) -> None: ...

class CancelExportRequest(_message.Message):
    __slots__ = ("export_id",)
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    def __init__(self, export_id: _Optional[str] = ...) -> None: ...

class CancelExportResponse(_message.Message):
    __slots__ = ("export",)
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    export: _export_pb2.Export
    def __init__(self, export: _Optional[_Union[_export_pb2.Export, _Mapping]] = ...) -> None: ...

class DeleteExportRequest(_message.Message):
    __slots__ = ("export_id",)
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    def __init__(self, export_id: _Optional[str] = ...) -> None: ...

class DeleteExportResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchExportRequest(_message.Message):
    __slots__ = ("export_id",)
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    def __init__(self, export_id: _Optional[str] = ...) -> None: ...

class WatchExportResponse(_message.Message):
    __slots__ = ("export",)
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    export: _export_pb2.Export
    def __init__(self, export: _Optional[_Union[_export_pb2.Export, _Mapping]] = ...) -> None: ...

class GetExportDownloadRequest(_message.Message):
    __slots__ = ("export_id", "artifact_key", "expires_in_seconds")
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_KEY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    artifact_key: str
    expires_in_seconds: int
    def __init__(self, export_id: _Optional[str] = ..., artifact_key: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class GetExportDownloadResponse(_message.Message):
    __slots__ = ("download_url", "expire_time", "file_size", "file_name")
    DOWNLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    download_url: str
    expire_time: _timestamp_pb2.Timestamp
    file_size: int
    file_name: str
    def __init__(self, download_url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., file_size: _Optional[int] = ..., file_name: _Optional[str] = ...) -> None: ...

class GetExportStatsRequest(_message.Message):
    __slots__ = ("dataset_id", "filter", "format", "include_interpolated", "version_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INTERPOLATED_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    filter: _dataset_pb2.ItemFilter
    format: str
    include_interpolated: bool
    version_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., filter: _Optional[_Union[_dataset_pb2.ItemFilter, _Mapping]] = ..., format: _Optional[str] = ..., include_interpolated: _Optional[bool] = ..., version_id: _Optional[str] = ...) -> None: ...

class GetExportStatsResponse(_message.Message):
    __slots__ = ("total_size", "total_size_mb", "item_count", "annotation_count", "sequence_count", "keyframe_count", "interpolated_frame_count", "warning")
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    KEYFRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATED_FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    total_size: int
    total_size_mb: str
    item_count: int
    annotation_count: int
    sequence_count: int
    keyframe_count: int
    interpolated_frame_count: int
    warning: str
    def __init__(self, total_size: _Optional[int] = ..., total_size_mb: _Optional[str] = ..., item_count: _Optional[int] = ..., annotation_count: _Optional[int] = ..., sequence_count: _Optional[int] = ..., keyframe_count: _Optional[int] = ..., interpolated_frame_count: _Optional[int] = ..., warning: _Optional[str] = ...) -> None: ...

class ListFormatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFormatsResponse(_message.Message):
    __slots__ = ("plugins",)
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    plugins: _containers.RepeatedCompositeFieldContainer[_export_pb2.PluginInfo]
    def __init__(self, plugins: _Optional[_Iterable[_Union[_export_pb2.PluginInfo, _Mapping]]] = ...) -> None: ...

class GetExportLogsRequest(_message.Message):
    __slots__ = ("export_id", "follow", "since_time")
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    SINCE_TIME_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    follow: bool
    since_time: _timestamp_pb2.Timestamp
    def __init__(self, export_id: _Optional[str] = ..., follow: _Optional[bool] = ..., since_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetExportLogsResponse(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[_export_pb2.ExportLogLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[_export_pb2.ExportLogLine, _Mapping]]] = ...) -> None: ...
