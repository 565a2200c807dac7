import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labelport.v1 import dataset_pb2 as _dataset_pb2
from labelport.v1 import export_pb2 as _export_pb2
from labelport.v1 import item_service_pb2 as _item_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportJob(_message.Message):
    __slots__ = ("export", "orchestrator_url", "token", "snapshot_time", "storage_config_json", "categories_json")
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    ORCHESTRATOR_URL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_TIME_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_JSON_FIELD_NUMBER: _ClassVar[int]
    export: _export_pb2.Export
    orchestrator_url: str
    token: str
    snapshot_time: _timestamp_pb2.Timestamp
    storage_config_json: str
    categories_json: str
    def __init__(self, export: _Optional[_Union[_export_pb2.Export, _Mapping]] = ..., orchestrator_url: _Optional[str] = ..., token: _Optional[str] = ..., snapshot_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., storage_config_json: _Optional[str] = ..., categories_json: _Optional[str] = ...) -> None: ...

class ExportShardTask(_message.Message):
    __slots__ = ("export", "job", "attempt", "index", "count", "range")
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    export: _export_pb2.Export
    job: ExportJob
    attempt: int
    index: int
    count: int
    range: _item_service_pb2.ItemRange
    def __init__(self, export: _Optional[_Union[_export_pb2.Export, _Mapping]] = ..., job: _Optional[_Union[ExportJob, _Mapping]] = ..., attempt: _Optional[int] = ..., index: _Optional[int] = ..., count: _Optional[int] = ..., range: _Optional[_Union[_item_service_pb2.ItemRange, _Mapping]] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("export_id", "sequence", "attempt", "time", "worker_id", "started", "progress", "log", "completed", "failed", "canceled")
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELED_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    sequence: int
    attempt: int
    time: _timestamp_pb2.Timestamp
    worker_id: str
    started: JobStarted
    progress: _export_pb2.ExportProgress
    log: _export_pb2.ExportLogLine
    completed: JobCompleted
    failed: JobFailed
    canceled: JobCanceled
    def __init__(self, export_id: _Optional[str] = ..., sequence: _Optional[int] = ..., attempt: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., worker_id: _Optional[str] = ..., started: _Optional[_Union[JobStarted, _Mapping]] = ..., progress: _Optional[_Union[_export_pb2.ExportProgress, _Mapping]] = ..., log: _Optional[_Union[_export_pb2.ExportLogLine, _Mapping]] = ..., completed: _Optional[_Union[JobCompleted, _Mapping]] = ..., failed: _Optional[_Union[JobFailed, _Mapping]] = ..., canceled: _Optional[_Union[JobCanceled, _Mapping]] = ...) -> None: ...

class JobStarted(_message.Message):
    __slots__ = ("plugin_name", "plugin_version", "total_items")
    PLUGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ITEMS_FIELD_NUMBER: _ClassVar[int]
    plugin_name: str
    plugin_version: str
    total_items: int
    def __init__(self, plugin_name: _Optional[str] = ..., plugin_version: _Optional[str] = ..., total_items: _Optional[int] = ...) -> None: ...

class JobCompleted(_message.Message):
    __slots__ = ("artifacts", "manifest_key", "counts", "format_notes", "total_size")
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_KEY_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_NOTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    artifacts: _containers.RepeatedCompositeFieldContainer[_export_pb2.Artifact]
    manifest_key: str
    counts: _export_pb2.ExportCounts
    format_notes: _containers.RepeatedScalarFieldContainer[str]
    total_size: int
    def __init__(self, artifacts: _Optional[_Iterable[_Union[_export_pb2.Artifact, _Mapping]]] = ..., manifest_key: _Optional[str] = ..., counts: _Optional[_Union[_export_pb2.ExportCounts, _Mapping]] = ..., format_notes: _Optional[_Iterable[str]] = ..., total_size: _Optional[int] = ...) -> None: ...

class JobFailed(_message.Message):
    __slots__ = ("error_message", "retryable")
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    error_message: str
    retryable: bool
    def __init__(self, error_message: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class JobCanceled(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClaimJobRequest(_message.Message):
    __slots__ = ("export_id", "delivery", "worker_id", "plugin_name", "plugin_version")
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    delivery: int
    worker_id: str
    plugin_name: str
    plugin_version: str
    def __init__(self, export_id: _Optional[str] = ..., delivery: _Optional[int] = ..., worker_id: _Optional[str] = ..., plugin_name: _Optional[str] = ..., plugin_version: _Optional[str] = ...) -> None: ...

class ClaimJobResponse(_message.Message):
    __slots__ = ("proceed", "reason", "job", "attempt")
    PROCEED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    proceed: bool
    reason: str
    job: ExportJob
    attempt: int
    def __init__(self, proceed: _Optional[bool] = ..., reason: _Optional[str] = ..., job: _Optional[_Union[ExportJob, _Mapping]] = ..., attempt: _Optional[int] = ...) -> None: ...

class ImportJob(_message.Message):
    __slots__ = ("import_id", "format", "options", "file_name", "source_key", "categories_key", "items_key", "storage_config_json", "media_prefix", "token", "dataset_id", "dry_run")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KEY_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_KEY_FIELD_NUMBER: _ClassVar[int]
    ITEMS_KEY_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    MEDIA_PREFIX_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    format: str
    options: _struct_pb2.Struct
    file_name: str
    source_key: str
    categories_key: str
    items_key: str
    storage_config_json: str
    media_prefix: str
    token: str
    dataset_id: str
    dry_run: bool
    def __init__(self, import_id: _Optional[str] = ..., format: _Optional[str] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., file_name: _Optional[str] = ..., source_key: _Optional[str] = ..., categories_key: _Optional[str] = ..., items_key: _Optional[str] = ..., storage_config_json: _Optional[str] = ..., media_prefix: _Optional[str] = ..., token: _Optional[str] = ..., dataset_id: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ImportJobReply(_message.Message):
    __slots__ = ("accepted", "reason", "worker_id", "plugin_name", "plugin_version")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    reason: str
    worker_id: str
    plugin_name: str
    plugin_version: str
    def __init__(self, accepted: _Optional[bool] = ..., reason: _Optional[str] = ..., worker_id: _Optional[str] = ..., plugin_name: _Optional[str] = ..., plugin_version: _Optional[str] = ...) -> None: ...

class ImportJobEvent(_message.Message):
    __slots__ = ("import_id", "token", "time", "progress", "log", "completed", "failed")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    token: str
    time: _timestamp_pb2.Timestamp
    progress: ImportConversionProgress
    log: _export_pb2.ExportLogLine
    completed: ImportConverted
    failed: JobFailed
    def __init__(self, import_id: _Optional[str] = ..., token: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress: _Optional[_Union[ImportConversionProgress, _Mapping]] = ..., log: _Optional[_Union[_export_pb2.ExportLogLine, _Mapping]] = ..., completed: _Optional[_Union[ImportConverted, _Mapping]] = ..., failed: _Optional[_Union[JobFailed, _Mapping]] = ...) -> None: ...

class ImportConversionProgress(_message.Message):
    __slots__ = ("items", "annotations", "bytes_read", "bytes_total")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    BYTES_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    items: int
    annotations: int
    bytes_read: int
    bytes_total: int
    def __init__(self, items: _Optional[int] = ..., annotations: _Optional[int] = ..., bytes_read: _Optional[int] = ..., bytes_total: _Optional[int] = ...) -> None: ...

class ImportConverted(_message.Message):
    __slots__ = ("items", "annotations", "categories", "dropped", "changed", "notes", "media_files", "media_bytes")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FILES_FIELD_NUMBER: _ClassVar[int]
    MEDIA_BYTES_FIELD_NUMBER: _ClassVar[int]
    items: int
    annotations: int
    categories: int
    dropped: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.DropCount]
    changed: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.DropCount]
    notes: _containers.RepeatedScalarFieldContainer[str]
    media_files: int
    media_bytes: int
    def __init__(self, items: _Optional[int] = ..., annotations: _Optional[int] = ..., categories: _Optional[int] = ..., dropped: _Optional[_Iterable[_Union[_dataset_pb2.DropCount, _Mapping]]] = ..., changed: _Optional[_Iterable[_Union[_dataset_pb2.DropCount, _Mapping]]] = ..., notes: _Optional[_Iterable[str]] = ..., media_files: _Optional[int] = ..., media_bytes: _Optional[int] = ...) -> None: ...
