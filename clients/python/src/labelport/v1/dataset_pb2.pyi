import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ItemKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_KIND_UNSPECIFIED: _ClassVar[ItemKind]
    ITEM_KIND_IMAGE: _ClassVar[ItemKind]
    ITEM_KIND_VIDEO: _ClassVar[ItemKind]
    ITEM_KIND_RECORD: _ClassVar[ItemKind]

class ItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_STATUS_UNSPECIFIED: _ClassVar[ItemStatus]
    ITEM_STATUS_DRAFT: _ClassVar[ItemStatus]
    ITEM_STATUS_IN_REVIEW: _ClassVar[ItemStatus]
    ITEM_STATUS_APPROVED: _ClassVar[ItemStatus]
    ITEM_STATUS_REJECTED: _ClassVar[ItemStatus]

class AnnotationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANNOTATION_TYPE_UNSPECIFIED: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_BBOX: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_POLYGON: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_POLYLINE: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_KEYPOINTS: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_CLASSIFICATION: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_TRACK: _ClassVar[AnnotationType]
    ANNOTATION_TYPE_MASK: _ClassVar[AnnotationType]
ITEM_KIND_UNSPECIFIED: ItemKind
ITEM_KIND_IMAGE: ItemKind
ITEM_KIND_VIDEO: ItemKind
ITEM_KIND_RECORD: ItemKind
ITEM_STATUS_UNSPECIFIED: ItemStatus
ITEM_STATUS_DRAFT: ItemStatus
ITEM_STATUS_IN_REVIEW: ItemStatus
ITEM_STATUS_APPROVED: ItemStatus
ITEM_STATUS_REJECTED: ItemStatus
ANNOTATION_TYPE_UNSPECIFIED: AnnotationType
ANNOTATION_TYPE_BBOX: AnnotationType
ANNOTATION_TYPE_POLYGON: AnnotationType
ANNOTATION_TYPE_POLYLINE: AnnotationType
ANNOTATION_TYPE_KEYPOINTS: AnnotationType
ANNOTATION_TYPE_CLASSIFICATION: AnnotationType
ANNOTATION_TYPE_TRACK: AnnotationType
ANNOTATION_TYPE_MASK: AnnotationType

class Category(_message.Message):
    __slots__ = ("id", "name", "supercategory", "keypoints", "skeleton")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUPERCATEGORY_FIELD_NUMBER: _ClassVar[int]
    KEYPOINTS_FIELD_NUMBER: _ClassVar[int]
    SKELETON_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    supercategory: str
    keypoints: _containers.RepeatedScalarFieldContainer[str]
    skeleton: _containers.RepeatedCompositeFieldContainer[SkeletonEdge]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., supercategory: _Optional[str] = ..., keypoints: _Optional[_Iterable[str]] = ..., skeleton: _Optional[_Iterable[_Union[SkeletonEdge, _Mapping]]] = ...) -> None: ...

class SkeletonEdge(_message.Message):
    __slots__ = ("from_keypoint", "to_keypoint")
    FROM_KEYPOINT_FIELD_NUMBER: _ClassVar[int]
    TO_KEYPOINT_FIELD_NUMBER: _ClassVar[int]
    from_keypoint: int
    to_keypoint: int
    def __init__(self, from_keypoint: _Optional[int] = ..., to_keypoint: _Optional[int] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("id", "name", "description", "categories", "create_time", "item_count", "annotation_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    categories: _containers.RepeatedCompositeFieldContainer[Category]
    create_time: _timestamp_pb2.Timestamp
    item_count: int
    annotation_count: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., categories: _Optional[_Iterable[_Union[Category, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., item_count: _Optional[int] = ..., annotation_count: _Optional[int] = ...) -> None: ...

class Media(_message.Message):
    __slots__ = ("uri", "file_name", "width", "height", "frames", "fps", "depth")
    URI_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    uri: str
    file_name: str
    width: int
    height: int
    frames: int
    fps: float
    depth: int
    def __init__(self, uri: _Optional[str] = ..., file_name: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., frames: _Optional[int] = ..., fps: _Optional[float] = ..., depth: _Optional[int] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("id", "dataset_id", "kind", "status", "split", "media", "meta", "tags", "data", "create_time", "update_time", "version", "annotations")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    dataset_id: str
    kind: ItemKind
    status: ItemStatus
    split: str
    media: Media
    meta: _struct_pb2.Struct
    tags: _containers.RepeatedScalarFieldContainer[str]
    data: _struct_pb2.Struct
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    annotations: _containers.RepeatedCompositeFieldContainer[Annotation]
    def __init__(self, id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., kind: _Optional[_Union[ItemKind, str]] = ..., status: _Optional[_Union[ItemStatus, str]] = ..., split: _Optional[str] = ..., media: _Optional[_Union[Media, _Mapping]] = ..., meta: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., tags: _Optional[_Iterable[str]] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., annotations: _Optional[_Iterable[_Union[Annotation, _Mapping]]] = ...) -> None: ...

class BoundingBox(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    width: float
    height: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ...) -> None: ...

class PointList(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, points: _Optional[_Iterable[float]] = ...) -> None: ...

class Keypoint(_message.Message):
    __slots__ = ("x", "y", "visibility")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    visibility: int
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., visibility: _Optional[int] = ...) -> None: ...

class KeypointList(_message.Message):
    __slots__ = ("keypoints",)
    KEYPOINTS_FIELD_NUMBER: _ClassVar[int]
    keypoints: _containers.RepeatedCompositeFieldContainer[Keypoint]
    def __init__(self, keypoints: _Optional[_Iterable[_Union[Keypoint, _Mapping]]] = ...) -> None: ...

class SequenceBox(_message.Message):
    __slots__ = ("frame_number", "x", "y", "width", "height", "is_keyframe", "visible")
    FRAME_NUMBER_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    IS_KEYFRAME_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_FIELD_NUMBER: _ClassVar[int]
    frame_number: int
    x: float
    y: float
    width: float
    height: float
    is_keyframe: bool
    visible: bool
    def __init__(self, frame_number: _Optional[int] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ..., is_keyframe: _Optional[bool] = ..., visible: _Optional[bool] = ...) -> None: ...

class BoundingBoxSequence(_message.Message):
    __slots__ = ("interpolation_mode", "boxes")
    INTERPOLATION_MODE_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    interpolation_mode: str
    boxes: _containers.RepeatedCompositeFieldContainer[SequenceBox]
    def __init__(self, interpolation_mode: _Optional[str] = ..., boxes: _Optional[_Iterable[_Union[SequenceBox, _Mapping]]] = ...) -> None: ...

class Mask(_message.Message):
    __slots__ = ("width", "height", "counts")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class TypeAssignment(_message.Message):
    __slots__ = ("type_id", "type_name")
    TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    type_id: str
    type_name: str
    def __init__(self, type_id: _Optional[str] = ..., type_name: _Optional[str] = ...) -> None: ...

class ObjectLink(_message.Message):
    __slots__ = ("object_id", "object_type")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_TYPE_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    object_type: str
    def __init__(self, object_id: _Optional[str] = ..., object_type: _Optional[str] = ...) -> None: ...

class Annotation(_message.Message):
    __slots__ = ("id", "dataset_id", "item_id", "persona_id", "type", "category_id", "attributes", "bbox", "polygon", "polyline", "keypoints", "box_sequence", "mask", "type_assignment", "object_link", "removed", "create_time", "update_time", "created_by", "reviewed_by", "review_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONA_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    POLYLINE_FIELD_NUMBER: _ClassVar[int]
    KEYPOINTS_FIELD_NUMBER: _ClassVar[int]
    BOX_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    TYPE_ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_LINK_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    dataset_id: str
    item_id: str
    persona_id: str
    type: AnnotationType
    category_id: int
    attributes: _struct_pb2.Struct
    bbox: BoundingBox
    polygon: PointList
    polyline: PointList
    keypoints: KeypointList
    box_sequence: BoundingBoxSequence
    mask: Mask
    type_assignment: TypeAssignment
    object_link: ObjectLink
    removed: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    created_by: str
    reviewed_by: str
    review_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., persona_id: _Optional[str] = ..., type: _Optional[_Union[AnnotationType, str]] = ..., category_id: _Optional[int] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., bbox: _Optional[_Union[BoundingBox, _Mapping]] = ..., polygon: _Optional[_Union[PointList, _Mapping]] = ..., polyline: _Optional[_Union[PointList, _Mapping]] = ..., keypoints: _Optional[_Union[KeypointList, _Mapping]] = ..., box_sequence: _Optional[_Union[BoundingBoxSequence, _Mapping]] = ..., mask: _Optional[_Union[Mask, _Mapping]] = ..., type_assignment: _Optional[_Union[TypeAssignment, _Mapping]] = ..., object_link: _Optional[_Union[ObjectLink, _Mapping]] = ..., removed: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., reviewed_by: _Optional[str] = ..., review_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DropCount(_message.Message):
    __slots__ = ("reason", "count")
    REASON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    reason: str
    count: int
    def __init__(self, reason: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ItemFilter(_message.Message):
    __slots__ = ("statuses", "all_statuses", "splits", "tags", "category_ids", "annotation_types", "persona_ids", "item_ids", "updated_after", "updated_before", "include_removed", "link_kinds", "users")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    ALL_STATUSES_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_IDS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_TYPES_FIELD_NUMBER: _ClassVar[int]
    PERSONA_IDS_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REMOVED_FIELD_NUMBER: _ClassVar[int]
    LINK_KINDS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[ItemStatus]
    all_statuses: bool
    splits: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    category_ids: _containers.RepeatedScalarFieldContainer[int]
    annotation_types: _containers.RepeatedScalarFieldContainer[AnnotationType]
    persona_ids: _containers.RepeatedScalarFieldContainer[str]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    updated_after: _timestamp_pb2.Timestamp
    updated_before: _timestamp_pb2.Timestamp
    include_removed: bool
    link_kinds: _containers.RepeatedScalarFieldContainer[str]
    users: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, statuses: _Optional[_Iterable[_Union[ItemStatus, str]]] = ..., all_statuses: _Optional[bool] = ..., splits: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., category_ids: _Optional[_Iterable[int]] = ..., annotation_types: _Optional[_Iterable[_Union[AnnotationType, str]]] = ..., persona_ids: _Optional[_Iterable[str]] = ..., item_ids: _Optional[_Iterable[str]] = ..., updated_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., include_removed: _Optional[bool] = ..., link_kinds: _Optional[_Iterable[str]] = ..., users: _Optional[_Iterable[str]] = ...) -> None: ...
