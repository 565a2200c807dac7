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

class DuplicateIds(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DUPLICATE_IDS_UNSPECIFIED: _ClassVar[DuplicateIds]
    DUPLICATE_IDS_SKIP: _ClassVar[DuplicateIds]
    DUPLICATE_IDS_OVERWRITE: _ClassVar[DuplicateIds]
    DUPLICATE_IDS_MERGE: _ClassVar[DuplicateIds]
    DUPLICATE_IDS_FAIL: _ClassVar[DuplicateIds]

class OverlappingFrames(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OVERLAPPING_FRAMES_UNSPECIFIED: _ClassVar[OverlappingFrames]
    OVERLAPPING_FRAMES_SKIP: _ClassVar[OverlappingFrames]
    OVERLAPPING_FRAMES_MERGE: _ClassVar[OverlappingFrames]
    OVERLAPPING_FRAMES_OVERWRITE: _ClassVar[OverlappingFrames]
    OVERLAPPING_FRAMES_FAIL: _ClassVar[OverlappingFrames]

class MissingDependencies(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSING_DEPENDENCIES_UNSPECIFIED: _ClassVar[MissingDependencies]
    MISSING_DEPENDENCIES_SKIP: _ClassVar[MissingDependencies]
    MISSING_DEPENDENCIES_CREATE: _ClassVar[MissingDependencies]
    MISSING_DEPENDENCIES_FAIL: _ClassVar[MissingDependencies]

class ImportStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_STATUS_UNSPECIFIED: _ClassVar[ImportStatus]
    IMPORT_STATUS_RUNNING: _ClassVar[ImportStatus]
    IMPORT_STATUS_COMPLETED: _ClassVar[ImportStatus]
    IMPORT_STATUS_FAILED: _ClassVar[ImportStatus]
    IMPORT_STATUS_ROLLED_BACK: _ClassVar[ImportStatus]
DUPLICATE_IDS_UNSPECIFIED: DuplicateIds
DUPLICATE_IDS_SKIP: DuplicateIds
DUPLICATE_IDS_OVERWRITE: DuplicateIds
DUPLICATE_IDS_MERGE: DuplicateIds
DUPLICATE_IDS_FAIL: DuplicateIds
OVERLAPPING_FRAMES_UNSPECIFIED: OverlappingFrames
OVERLAPPING_FRAMES_SKIP: OverlappingFrames
OVERLAPPING_FRAMES_MERGE: OverlappingFrames
OVERLAPPING_FRAMES_OVERWRITE: OverlappingFrames
OVERLAPPING_FRAMES_FAIL: OverlappingFrames
MISSING_DEPENDENCIES_UNSPECIFIED: MissingDependencies
MISSING_DEPENDENCIES_SKIP: MissingDependencies
MISSING_DEPENDENCIES_CREATE: MissingDependencies
MISSING_DEPENDENCIES_FAIL: MissingDependencies
IMPORT_STATUS_UNSPECIFIED: ImportStatus
IMPORT_STATUS_RUNNING: ImportStatus
IMPORT_STATUS_COMPLETED: ImportStatus
IMPORT_STATUS_FAILED: ImportStatus
IMPORT_STATUS_ROLLED_BACK: ImportStatus

class ImportOptions(_message.Message):
    __slots__ = ("duplicate_ids", "overlapping_frames", "missing_dependencies", "strict_mode", "require_keyframes", "atomic")
    DUPLICATE_IDS_FIELD_NUMBER: _ClassVar[int]
    OVERLAPPING_FRAMES_FIELD_NUMBER: _ClassVar[int]
    MISSING_DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    STRICT_MODE_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    ATOMIC_FIELD_NUMBER: _ClassVar[int]
    duplicate_ids: DuplicateIds
    overlapping_frames: OverlappingFrames
    missing_dependencies: MissingDependencies
    strict_mode: bool
    require_keyframes: bool
    atomic: bool
    def __init__(self, duplicate_ids: _Optional[_Union[DuplicateIds, str]] = ..., overlapping_frames: _Optional[_Union[OverlappingFrames, str]] = ..., missing_dependencies: _Optional[_Union[MissingDependencies, str]] = ..., strict_mode: _Optional[bool] = ..., require_keyframes: _Optional[bool] = ..., atomic: _Optional[bool] = ...) -> None: ...

class ImportStart(_message.Message):
    __slots__ = ("dataset_id", "file_name", "format", "options", "importer_options")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    IMPORTER_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    file_name: str
    format: str
    options: ImportOptions
    importer_options: _struct_pb2.Struct
    def __init__(self, dataset_id: _Optional[str] = ..., file_name: _Optional[str] = ..., format: _Optional[str] = ..., options: _Optional[_Union[ImportOptions, _Mapping]] = ..., importer_options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ImportRequest(_message.Message):
    __slots__ = ("start", "chunk")
    START_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    start: ImportStart
    chunk: bytes
    def __init__(self, start: _Optional[_Union[ImportStart, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class PreviewImportRequest(_message.Message):
    __slots__ = ("start", "chunk")
    START_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    start: ImportStart
    chunk: bytes
    def __init__(self, start: _Optional[_Union[ImportStart, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ImportCounts(_message.Message):
    __slots__ = ("annotations", "total_keyframes", "single_keyframe_sequences", "items")
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    SINGLE_KEYFRAME_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    annotations: int
    total_keyframes: int
    single_keyframe_sequences: int
    items: int
    def __init__(self, annotations: _Optional[int] = ..., total_keyframes: _Optional[int] = ..., single_keyframe_sequences: _Optional[int] = ..., items: _Optional[int] = ...) -> None: ...

class ImportSummary(_message.Message):
    __slots__ = ("total_lines", "processed_lines", "imported_items", "skipped_items")
    TOTAL_LINES_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_LINES_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    total_lines: int
    processed_lines: int
    imported_items: ImportCounts
    skipped_items: ImportCounts
    def __init__(self, total_lines: _Optional[int] = ..., processed_lines: _Optional[int] = ..., imported_items: _Optional[_Union[ImportCounts, _Mapping]] = ..., skipped_items: _Optional[_Union[ImportCounts, _Mapping]] = ...) -> None: ...

class ImportIssue(_message.Message):
    __slots__ = ("line", "type", "message", "field", "annotation_id")
    LINE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    line: int
    type: str
    message: str
    field: str
    annotation_id: str
    def __init__(self, line: _Optional[int] = ..., type: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ..., annotation_id: _Optional[str] = ...) -> None: ...

class ImportConflict(_message.Message):
    __slots__ = ("type", "annotation_id", "existing_annotation_id", "message", "line")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    EXISTING_ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    type: str
    annotation_id: str
    existing_annotation_id: str
    message: str
    line: int
    def __init__(self, type: _Optional[str] = ..., annotation_id: _Optional[str] = ..., existing_annotation_id: _Optional[str] = ..., message: _Optional[str] = ..., line: _Optional[int] = ...) -> None: ...

class AnnotationAccounting(_message.Message):
    __slots__ = ("received", "written", "merged", "skipped", "dropped", "dropped_by_reason", "changed")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    MERGED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    received: int
    written: int
    merged: int
    skipped: int
    dropped: int
    dropped_by_reason: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.DropCount]
    changed: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.DropCount]
    def __init__(self, received: _Optional[int] = ..., written: _Optional[int] = ..., merged: _Optional[int] = ..., skipped: _Optional[int] = ..., dropped: _Optional[int] = ..., dropped_by_reason: _Optional[_Iterable[_Union[_dataset_pb2.DropCount, _Mapping]]] = ..., changed: _Optional[_Iterable[_Union[_dataset_pb2.DropCount, _Mapping]]] = ...) -> None: ...

class ImportResponse(_message.Message):
    __slots__ = ("import_id", "success", "summary", "warnings", "errors", "conflicts", "status", "annotations", "notes")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    success: bool
    summary: ImportSummary
    warnings: _containers.RepeatedCompositeFieldContainer[ImportIssue]
    errors: _containers.RepeatedCompositeFieldContainer[ImportIssue]
    conflicts: _containers.RepeatedCompositeFieldContainer[ImportConflict]
    status: str
    annotations: AnnotationAccounting
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, import_id: _Optional[str] = ..., success: _Optional[bool] = ..., summary: _Optional[_Union[ImportSummary, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[ImportIssue, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[ImportIssue, _Mapping]]] = ..., conflicts: _Optional[_Iterable[_Union[ImportConflict, _Mapping]]] = ..., status: _Optional[str] = ..., annotations: _Optional[_Union[AnnotationAccounting, _Mapping]] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class PreviewImportResponse(_message.Message):
    __slots__ = ("counts", "conflicts", "warnings", "errors", "status", "annotations", "notes")
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    counts: ImportCounts
    conflicts: _containers.RepeatedCompositeFieldContainer[ImportConflict]
    warnings: _containers.RepeatedCompositeFieldContainer[ImportIssue]
    errors: _containers.RepeatedCompositeFieldContainer[ImportIssue]
    status: str
    annotations: AnnotationAccounting
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, counts: _Optional[_Union[ImportCounts, _Mapping]] = ..., conflicts: _Optional[_Iterable[_Union[ImportConflict, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[ImportIssue, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[ImportIssue, _Mapping]]] = ..., status: _Optional[str] = ..., annotations: _Optional[_Union[AnnotationAccounting, _Mapping]] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class ImportRecord(_message.Message):
    __slots__ = ("id", "dataset_id", "file_name", "file_size", "sha256", "options", "status", "success", "items_imported", "items_skipped", "actor", "error_message", "create_time", "complete_time", "warnings", "errors", "conflicts", "outcome", "annotations", "format", "notes")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_IMPORTED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    dataset_id: str
    file_name: str
    file_size: int
    sha256: str
    options: ImportOptions
    status: ImportStatus
    success: bool
    items_imported: int
    items_skipped: int
    actor: str
    error_message: str
    create_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    warnings: _containers.RepeatedCompositeFieldContainer[ImportIssue]
    errors: _containers.RepeatedCompositeFieldContainer[ImportIssue]
    conflicts: _containers.RepeatedCompositeFieldContainer[ImportConflict]
    outcome: str
    annotations: AnnotationAccounting
    format: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., file_name: _Optional[str] = ..., file_size: _Optional[int] = ..., sha256: _Optional[str] = ..., options: _Optional[_Union[ImportOptions, _Mapping]] = ..., status: _Optional[_Union[ImportStatus, str]] = ..., success: _Optional[bool] = ..., items_imported: _Optional[int] = ..., items_skipped: _Optional[int] = ..., actor: _Optional[str] = ..., error_message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[ImportIssue, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[ImportIssue, _Mapping]]] = ..., conflicts: _Optional[_Iterable[_Union[ImportConflict, _Mapping]]] = ..., outcome: _Optional[str] = ..., annotations: _Optional[_Union[AnnotationAccounting, _Mapping]] = ..., format: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListImportsRequest(_message.Message):
    __slots__ = ("limit", "offset", "dataset_id")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    dataset_id: str
    def __init__(self, limit: _Optional[int] = ..., offset: _Optional[int] = ..., dataset_id: _Optional[str] = ...) -> None: ...

class ListImportsResponse(_message.Message):
    __slots__ = ("imports", "total")
    IMPORTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    imports: _containers.RepeatedCompositeFieldContainer[ImportRecord]
    total: int
    def __init__(self, imports: _Optional[_Iterable[_Union[ImportRecord, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class GetImportRequest(_message.Message):
    __slots__ = ("import_id",)
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    def __init__(self, import_id: _Optional[str] = ...) -> None: ...

class GetImportResponse(_message.Message):
    __slots__ = ()
    IMPORT_FIELD_NUMBER: _ClassVar[int]
    def __init__(self, **kwargs) -> None: ...
