import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labelport.v1 import dataset_pb2 as _dataset_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpsertItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "items")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    items: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.Item]
    def __init__(self, dataset_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_dataset_pb2.Item, _Mapping]]] = ...) -> None: ...

class UpsertItemsResponse(_message.Message):
    __slots__ = ("upserted_items", "upserted_annotations")
    UPSERTED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    UPSERTED_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    upserted_items: int
    upserted_annotations: int
    def __init__(self, upserted_items: _Optional[int] = ..., upserted_annotations: _Optional[int] = ...) -> None: ...

class UpsertAnnotationsRequest(_message.Message):
    __slots__ = ("dataset_id", "annotations")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    annotations: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.Annotation]
    def __init__(self, dataset_id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_dataset_pb2.Annotation, _Mapping]]] = ...) -> None: ...

class UpsertAnnotationsResponse(_message.Message):
    __slots__ = ("upserted_annotations",)
    UPSERTED_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    upserted_annotations: int
    def __init__(self, upserted_annotations: _Optional[int] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("dataset_id", "item_id", "version_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    item_id: str
    version_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class GetItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: _dataset_pb2.Item
    def __init__(self, item: _Optional[_Union[_dataset_pb2.Item, _Mapping]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "filter", "page_size", "page_token", "version_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    filter: _dataset_pb2.ItemFilter
    page_size: int
    page_token: str
    version_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., filter: _Optional[_Union[_dataset_pb2.ItemFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.Item]
    next_page_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[_dataset_pb2.Item, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CountItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "filter", "version_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    filter: _dataset_pb2.ItemFilter
    version_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., filter: _Optional[_Union[_dataset_pb2.ItemFilter, _Mapping]] = ..., version_id: _Optional[str] = ...) -> None: ...

class CountItemsResponse(_message.Message):
    __slots__ = ("item_count", "annotation_count")
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    item_count: int
    annotation_count: int
    def __init__(self, item_count: _Optional[int] = ..., annotation_count: _Optional[int] = ...) -> None: ...

class DeleteItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "item_ids")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset_id: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteItemsResponse(_message.Message):
    __slots__ = ("deleted_items", "deleted_annotations")
    DELETED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    DELETED_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    deleted_items: int
    deleted_annotations: int
    def __init__(self, deleted_items: _Optional[int] = ..., deleted_annotations: _Optional[int] = ...) -> None: ...

class StreamItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "filter", "after_id", "snapshot_time", "batch_size", "limit", "version_id", "last_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_TIME_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    filter: _dataset_pb2.ItemFilter
    after_id: str
    snapshot_time: _timestamp_pb2.Timestamp
    batch_size: int
    limit: int
    version_id: str
    last_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., filter: _Optional[_Union[_dataset_pb2.ItemFilter, _Mapping]] = ..., after_id: _Optional[str] = ..., snapshot_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_size: _Optional[int] = ..., limit: _Optional[int] = ..., version_id: _Optional[str] = ..., last_id: _Optional[str] = ...) -> None: ...

class StreamItemsResponse(_message.Message):
    __slots__ = ("items", "snapshot_time")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_TIME_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_dataset_pb2.Item]
    snapshot_time: _timestamp_pb2.Timestamp
    def __init__(self, items: _Optional[_Iterable[_Union[_dataset_pb2.Item, _Mapping]]] = ..., snapshot_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SplitItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "filter", "snapshot_time", "version_id", "ranges", "annotations_per_range")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_PER_RANGE_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    filter: _dataset_pb2.ItemFilter
    snapshot_time: _timestamp_pb2.Timestamp
    version_id: str
    ranges: int
    annotations_per_range: int
    def __init__(self, dataset_id: _Optional[str] = ..., filter: _Optional[_Union[_dataset_pb2.ItemFilter, _Mapping]] = ..., snapshot_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version_id: _Optional[str] = ..., ranges: _Optional[int] = ..., annotations_per_range: _Optional[int] = ...) -> None: ...

class ItemRange(_message.Message):
    __slots__ = ("after_id", "last_id", "items", "annotations")
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    after_id: str
    last_id: str
    items: int
    annotations: int
    def __init__(self, after_id: _Optional[str] = ..., last_id: _Optional[str] = ..., items: _Optional[int] = ..., annotations: _Optional[int] = ...) -> None: ...

class SplitItemsResponse(_message.Message):
    __slots__ = ("ranges", "total_items", "total_annotations", "plan_millis")
    RANGES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    PLAN_MILLIS_FIELD_NUMBER: _ClassVar[int]
    ranges: _containers.RepeatedCompositeFieldContainer[ItemRange]
    total_items: int
    total_annotations: int
    plan_millis: int
    def __init__(self, ranges: _Optional[_Iterable[_Union[ItemRange, _Mapping]]] = ..., total_items: _Optional[int] = ..., total_annotations: _Optional[int] = ..., plan_millis: _Optional[int] = ...) -> None: ...
