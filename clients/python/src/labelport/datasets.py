"""Datasets, addressed by id or by name (the name is the developer exports API's slug)."""

from __future__ import annotations

from typing import Iterable, List, Union

from labelport._transport import Transport
from labelport.v1 import dataset_service_pb2 as pb
from labelport.v1.dataset_pb2 import Category, Dataset
from labelport.v1.dataset_service_pb2_grpc import DatasetServiceStub

CategoryLike = Union[str, Category]


def _categories(categories: Iterable[CategoryLike]) -> List[Category]:
    return [Category(name=c) if isinstance(c, str) else c for c in categories]


class Datasets:
    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._stub = DatasetServiceStub(transport.channel)

    def create(self, name: str, *, description: str = "", categories: Iterable[CategoryLike] = ()) -> Dataset:
        request = pb.CreateDatasetRequest(name=name, description=description, categories=_categories(categories))
        return self._t.unary(self._stub.CreateDataset, request).dataset

    def get(self, dataset: str) -> Dataset:
        """`dataset` is an id or a name."""
        return self._t.unary(self._stub.GetDataset, pb.GetDatasetRequest(dataset_id=dataset)).dataset

    def list(self) -> List[Dataset]:
        datasets: List[Dataset] = []
        token = ""
        while True:
            page = self._t.unary(self._stub.ListDatasets, pb.ListDatasetsRequest(page_size=500, page_token=token))
            datasets.extend(page.datasets)
            token = page.next_page_token
            if not token:
                return datasets

    def add_categories(self, dataset: str, categories: Iterable[CategoryLike]) -> Dataset:
        request = pb.AddCategoriesRequest(dataset_id=dataset, categories=_categories(categories))
        return self._t.unary(self._stub.AddCategories, request).dataset

    def delete(self, dataset: str) -> pb.DeleteDatasetResponse:
        return self._t.unary(self._stub.DeleteDataset, pb.DeleteDatasetRequest(dataset_id=dataset))
