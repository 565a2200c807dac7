import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labelport.v1 import dataset_pb2 as _dataset_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_STATUS_UNSPECIFIED: _ClassVar[ExportStatus]
    EXPORT_STATUS_QUEUED: _ClassVar[ExportStatus]
    EXPORT_STATUS_RUNNING: _ClassVar[ExportStatus]
    EXPORT_STATUS_COMPLETED: _ClassVar[ExportStatus]
    EXPORT_STATUS_FAILED: _ClassVar[ExportStatus]
    EXPORT_STATUS_CANCELED: _ClassVar[ExportStatus]
EXPORT_STATUS_UNSPECIFIED: ExportStatus
EXPORT_STATUS_QUEUED: ExportStatus
EXPORT_STATUS_RUNNING: ExportStatus
EXPORT_STATUS_COMPLETED: ExportStatus
EXPORT_STATUS_FAILED: ExportStatus
EXPORT_STATUS_CANCELED: ExportStatus

class ExportProgress(_message.Message):
    __slots__ = ("processed_items", "total_items", "processed_annotations")
    PROCESSED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ITEMS_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    processed_items: int
    total_items: int
    processed_annotations: int
    def __init__(self, processed_items: _Optional[int] = ..., total_items: _Optional[int] = ..., processed_annotations: _Optional[int] = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("key", "size", "sha256", "content_type")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    key: str
    size: int
    sha256: str
    content_type: str
    def __init__(self, key: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...

class ExportCounts(_message.Message):
    __slots__ = ("item_count", "annotation_count", "file_count", "received_annotations", "dropped", "changed")
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    item_count: int
    annotation_count: int
    file_count: int
    received_annotations: int
    dropped: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.DropCount]
    changed: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.DropCount]
    def __init__(self, item_count: _Optional[int] = ..., annotation_count: _Optional[int] = ..., file_count: _Optional[int] = ..., received_annotations: _Optional[int] = ..., dropped: _Optional[_Iterable[_Union[_dataset_pb2.DropCount, _Mapping]]] = ..., changed: _Optional[_Iterable[_Union[_dataset_pb2.DropCount, _Mapping]]] = ...) -> None: ...

class Export(_message.Message):
    __slots__ = ("id", "name", "description", "dataset_id", "dataset_name", "format", "filter", "storage", "path", "save_original_file", "options", "status", "progress", "error_message", "counts", "file_size", "artifacts", "manifest_key", "plugin_name", "plugin_version", "attempts", "request_id", "created_by", "create_time", "start_time", "complete_time", "expire_time", "format_notes", "version_id", "version_name", "target", "shards")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SAVE_ORIGINAL_FILE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_KEY_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_NOTES_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    dataset_id: str
    dataset_name: str
    format: str
    filter: _dataset_pb2.ItemFilter
    storage: str
    path: str
    save_original_file: bool
    options: _struct_pb2.Struct
    status: ExportStatus
    progress: ExportProgress
    error_message: str
    counts: ExportCounts
    file_size: int
    artifacts: _containers.RepeatedCompositeFieldContainer[Artifact]
    manifest_key: str
    plugin_name: str
    plugin_version: str
    attempts: int
    request_id: str
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    format_notes: _containers.RepeatedScalarFieldContainer[str]
    version_id: str
    version_name: str
    target: str
    shards: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., dataset_id: _Optional[str] = ..., dataset_name: _Optional[str] = ..., format: _Optional[str] = ..., filter: _Optional[_Union[_dataset_pb2.ItemFilter, _Mapping]] = ..., storage: _Optional[str] = ..., path: _Optional[str] = ..., save_original_file: _Optional[bool] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[ExportStatus, str]] = ..., progress: _Optional[_Union[ExportProgress, _Mapping]] = ..., error_message: _Optional[str] = ..., counts: _Optional[_Union[ExportCounts, _Mapping]] = ..., file_size: _Optional[int] = ..., artifacts: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ..., manifest_key: _Optional[str] = ..., plugin_name: _Optional[str] = ..., plugin_version: _Optional[str] = ..., attempts: _Optional[int] = ..., request_id: _Optional[str] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., format_notes: _Optional[_Iterable[str]] = ..., version_id: _Optional[str] = ..., version_name: _Optional[str] = ..., target: _Optional[str] = ..., shards: _Optional[int] = ...) -> None: ...

class PluginInfo(_message.Message):
    __slots__ = ("name", "version", "formats", "options_schema", "sdk_range", "description", "last_seen_time", "import_formats")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORMATS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SDK_RANGE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    IMPORT_FORMATS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    formats: _containers.RepeatedScalarFieldContainer[str]
    options_schema: _struct_pb2.Struct
    sdk_range: str
    description: str
    last_seen_time: _timestamp_pb2.Timestamp
    import_formats: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., formats: _Optional[_Iterable[str]] = ..., options_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., sdk_range: _Optional[str] = ..., description: _Optional[str] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., import_formats: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportLogLine(_message.Message):
    __slots__ = ("time", "level", "message", "source", "fields")
    TIME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    level: str
    message: str
    source: str
    fields: _struct_pb2.Struct
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., level: _Optional[str] = ..., message: _Optional[str] = ..., source: _Optional[str] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
