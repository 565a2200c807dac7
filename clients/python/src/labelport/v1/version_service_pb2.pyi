import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labelport.v1 import dataset_pb2 as _dataset_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_KIND_ADDED: _ClassVar[ChangeKind]
    CHANGE_KIND_REMOVED: _ClassVar[ChangeKind]
    CHANGE_KIND_CHANGED: _ClassVar[ChangeKind]
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_KIND_ADDED: ChangeKind
CHANGE_KIND_REMOVED: ChangeKind
CHANGE_KIND_CHANGED: ChangeKind

class DatasetVersion(_message.Message):
    __slots__ = ("id", "dataset_id", "name", "description", "item_count", "annotation_count", "size_bytes", "created_by", "create_time", "parent_id", "categories")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    dataset_id: str
    name: str
    description: str
    item_count: int
    annotation_count: int
    size_bytes: int
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    parent_id: str
    categories: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.Category]
    def __init__(self, id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., item_count: _Optional[int] = ..., annotation_count: _Optional[int] = ..., size_bytes: _Optional[int] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parent_id: _Optional[str] = ..., categories: _Optional[_Iterable[_Union[_dataset_pb2.Category, _Mapping]]] = ...) -> None: ...

class CreateVersionRequest(_message.Message):
    __slots__ = ("dataset_id", "name", "description")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    name: str
    description: str
    def __init__(self, dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CreateVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: DatasetVersion
    def __init__(self, version: _Optional[_Union[DatasetVersion, _Mapping]] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[DatasetVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[DatasetVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetVersionRequest(_message.Message):
    __slots__ = ("dataset_id", "version_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    version_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class GetVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: DatasetVersion
    def __init__(self, version: _Optional[_Union[DatasetVersion, _Mapping]] = ...) -> None: ...

class DeleteVersionRequest(_message.Message):
    __slots__ = ("dataset_id", "version_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    version_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class DeleteVersionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DiffVersionsRequest(_message.Message):
    __slots__ = ("dataset_id", "from_version_id", "to_version_id", "max_changes")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_CHANGES_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    from_version_id: str
    to_version_id: str
    max_changes: int
    def __init__(self, dataset_id: _Optional[str] = ..., from_version_id: _Optional[str] = ..., to_version_id: _Optional[str] = ..., max_changes: _Optional[int] = ...) -> None: ...

class ChangeCounts(_message.Message):
    __slots__ = ("added", "removed", "changed")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    added: int
    removed: int
    changed: int
    def __init__(self, added: _Optional[int] = ..., removed: _Optional[int] = ..., changed: _Optional[int] = ...) -> None: ...

class CategoryChangeCounts(_message.Message):
    __slots__ = ("category_id", "category_name", "annotations")
    CATEGORY_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_NAME_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    category_id: int
    category_name: str
    annotations: ChangeCounts
    def __init__(self, category_id: _Optional[int] = ..., category_name: _Optional[str] = ..., annotations: _Optional[_Union[ChangeCounts, _Mapping]] = ...) -> None: ...

class ItemChange(_message.Message):
    __slots__ = ("item_id", "item", "added_annotation_ids", "removed_annotation_ids", "changed_annotation_ids")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ADDED_ANNOTATION_IDS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_ANNOTATION_IDS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_ANNOTATION_IDS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    item: ChangeKind
    added_annotation_ids: _containers.RepeatedScalarFieldContainer[str]
    removed_annotation_ids: _containers.RepeatedScalarFieldContainer[str]
    changed_annotation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_id: _Optional[str] = ..., item: _Optional[_Union[ChangeKind, str]] = ..., added_annotation_ids: _Optional[_Iterable[str]] = ..., removed_annotation_ids: _Optional[_Iterable[str]] = ..., changed_annotation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DiffVersionsResponse(_message.Message):
    __slots__ = ("to", "items", "annotations", "by_category", "categories", "changes", "changes_truncated")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    BY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CHANGES_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    to: DatasetVersion
    items: ChangeCounts
    annotations: ChangeCounts
    by_category: _containers.RepeatedCompositeFieldContainer[CategoryChangeCounts]
    categories: ChangeCounts
    changes: _containers.RepeatedCompositeFieldContainer[ItemChange]
    changes_truncated: bool
    def __init__(self, to: _Optional[_Union[DatasetVersion, _Mapping]] = ..., items: _Optional[_Union[ChangeCounts, _Mapping]] = ..., annotations: _Optional[_Union[ChangeCounts, _Mapping]] = ..., by_category: _Optional[_Iterable[_Union[CategoryChangeCounts, _Mapping]]] = ..., categories: _Optional[_Union[ChangeCounts, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[ItemChange, _Mapping]]] = ..., changes_truncated: _Optional[bool] = ..., **kwargs) -> None: ...
