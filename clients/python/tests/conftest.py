"""Fixtures against the live service test/python-client.test.ts starts: LABELPORT_URL, an admin's
LABELPORT_API_KEY, a LABELPORT_EDITOR_KEY and a LABELPORT_VIEWER_KEY, and the coco and echo (test fixture) exporters attached."""

import json
import os
import uuid

import pytest

from labelport import Client

TIME = "2025-10-06T14:30:00Z"


def item_line(item_id: str, x: float) -> str:
    return json.dumps({
        "id": item_id,
        "kind": "ITEM_KIND_IMAGE",
        "status": "ITEM_STATUS_APPROVED",
        "split": "train",
        "media": {"uri": f"media/{item_id}.jpg", "fileName": f"{item_id}.jpg", "width": 640, "height": 480},
        "createTime": TIME,
        "updateTime": TIME,
        "annotations": [{
            "id": f"{item_id}-a",
            "type": "ANNOTATION_TYPE_BBOX",
            "categoryId": 1,
            "bbox": {"x": x, "y": 1, "width": 2, "height": 3},
            "createTime": TIME,
            "updateTime": TIME,
        }],
    })


@pytest.fixture(scope="session")
def client():
    with Client(os.environ["LABELPORT_URL"], os.environ["LABELPORT_API_KEY"]) as c:
        yield c


@pytest.fixture(scope="session")
def editor():
    with Client(os.environ["LABELPORT_URL"], os.environ["LABELPORT_EDITOR_KEY"]) as c:
        yield c


@pytest.fixture(scope="session")
def viewer():
    with Client(os.environ["LABELPORT_URL"], os.environ["LABELPORT_VIEWER_KEY"]) as c:
        yield c


@pytest.fixture
def items_file(tmp_path):
    """Three approved images with one car box each, as labelport-items JSONL; ids unique per test."""
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(item_line(f"{prefix}-{i}", i) + "\n" for i in range(3)))
    return path


@pytest.fixture
def dataset(client, items_file):
    """A dataset named street-scenes-<random> holding the three items."""
    created = client.datasets.create(f"street-scenes-{uuid.uuid4().hex[:8]}", categories=["car", "person"])
    result = client.imports.create(items_file, dataset=created.name, format="labelport-items")
    assert result.success, list(result.errors)
    return created
