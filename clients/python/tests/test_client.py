"""The client against a live service: the developer exports API's examples by name, datasets,
imports with preview, downloads, API keys and typed errors."""

import json
import zipfile

import pytest

from labelport import (
    Client,
    ExportFailedError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
)
from labelport.v1.export_pb2 import ExportStatus


def test_create_with_wait_returns_the_finished_export_by_name(client, dataset):
    export = client.exports.create(dataset_name=dataset.name, name="Training Export v1", wait=True)
    assert export.status == ExportStatus.EXPORT_STATUS_COMPLETED
    assert export.name == "Training Export v1"
    assert export.dataset_name == dataset.name
    assert export.format == "coco"
    assert export.counts.item_count == 3
    assert export.counts.annotation_count == 3

    fetched = client.exports.get(dataset.name, "Training Export v1")
    assert fetched.id == export.id
    assert fetched.status == ExportStatus.EXPORT_STATUS_COMPLETED
    assert client.exports.get(export.id).name == "Training Export v1"
    assert [e.name for e in client.exports.list(dataset.name)] == ["Training Export v1"]


def test_class_and_status_filters_select_as_the_developer_exports_api_does(client, dataset):
    cars = client.exports.create(dataset_name=dataset.name, name="cars", class_filter=["car"], wait=True)
    assert cars.counts.annotation_count == 3
    people = client.exports.create(dataset_name=dataset.name, name="people", class_filter=["person"], wait=True)
    assert people.counts.annotation_count == 0
    drafts = client.exports.create(dataset_name=dataset.name, name="drafts", status_filter="draft", wait=True)
    assert drafts.counts.item_count == 0
    every = client.exports.create(dataset_name=dataset.name, name="all", status_filter="all", wait=True)
    assert every.counts.item_count == 3
    with pytest.raises(InvalidArgumentError, match='unknown class "bike"'):
        client.exports.create(dataset_name=dataset.name, name="bikes", class_filter=["bike"])
    with pytest.raises(InvalidArgumentError, match="status_filter"):
        client.exports.create(dataset_name=dataset.name, name="bad", status_filter="finished")


def test_download_by_name_writes_the_zip_of_the_export(client, dataset, tmp_path):
    client.exports.create(dataset_name=dataset.name, name="for download", wait=True)
    path = client.exports.download(dataset.name, "for download", path=tmp_path / "export.zip")
    assert path == tmp_path / "export.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        coco_files = [n for n in names if n.endswith(".json") and "annotations" in n]
        assert coco_files, names
        coco = json.loads(archive.read(coco_files[0]))
    assert len(coco["images"]) == 3
    assert [c["name"] for c in coco["categories"]][:1] == ["car"]
    assert not list(tmp_path.glob("*.partial"))


def test_download_defaults_to_the_export_file_name_in_the_working_directory(client, dataset, tmp_path, monkeypatch):
    export = client.exports.create(dataset_name=dataset.name, name="default path", wait=True)
    monkeypatch.chdir(tmp_path)
    path = client.exports.download(export)
    assert path.parent == tmp_path
    assert path.stat().st_size > 0


def test_delete_by_name_as_the_developer_exports_api_allows_it(client, editor, dataset):
    # By name, the key that created an export may delete it (by id, DeleteExport needs an admin).
    editor.exports.create(dataset_name=dataset.name, name="editor's", wait=True)
    client.exports.create(dataset_name=dataset.name, name="admin's", wait=True)
    with pytest.raises(PermissionDeniedError):
        editor.exports.delete(dataset.name, "admin's")
    editor.exports.delete(dataset.name, "editor's")
    with pytest.raises(NotFoundError):
        client.exports.get(dataset.name, "editor's")
    client.exports.delete(client.exports.get(dataset.name, "admin's"))
    assert client.exports.list(dataset.name) == []


def test_a_failed_export_raises_export_failed_error_with_its_final_state(client, dataset):
    # The echo fixture plugin fails a job whose `fail` option is set, on its only delivery.
    with pytest.raises(ExportFailedError) as failed:
        client.exports.create(dataset_name=dataset.name, name="will fail", format="echo",
                              options={"fail": "disk on fire"}, wait=True)
    assert failed.value.export.status == ExportStatus.EXPORT_STATUS_FAILED
    assert failed.value.message == f"export {failed.value.export.id} failed: disk on fire"


def test_datasets_by_id_and_name(client, dataset):
    by_name = client.datasets.get(dataset.name)
    assert by_name.id == dataset.id
    assert by_name.item_count == 3
    assert [c.name for c in by_name.categories] == ["car", "person"]
    assert dataset.id in [d.id for d in client.datasets.list()]
    client.datasets.delete(dataset.id)
    with pytest.raises(NotFoundError):
        client.datasets.get(dataset.id)


def test_import_preview_writes_nothing_and_reports_errors(client, items_file):
    empty = client.datasets.create(f"preview-{items_file.parent.name[-8:]}")
    preview = client.imports.preview(items_file, dataset=empty.id, format="labelport-items")
    assert preview.counts.items == 3
    assert not preview.errors
    assert client.datasets.get(empty.id).item_count == 0

    with pytest.raises(InvalidArgumentError) as bad:
        client.imports.preview(b'{"id": "x"}\nnot json\n', dataset=empty.id, format="labelport-items",
                               file_name="bad.jsonl")
    assert "line 2" in bad.value.message

    result = client.imports.create(items_file.read_bytes(), dataset=empty.id, format="labelport-items",
                                   file_name="items.jsonl")
    assert result.success
    assert client.datasets.get(empty.id).item_count == 3
    assert result.import_id in [r.id for r in client.imports.list(dataset=empty.id)]
    assert client.imports.get(result.import_id).id == result.import_id


def test_errors_are_typed(client, viewer, dataset):
    with pytest.raises(NotFoundError) as not_found:
        client.exports.get(dataset.name, "no such export")
    assert "no such export" in not_found.value.message
    with pytest.raises(NotFoundError):
        client.datasets.get("no-such-dataset")
    with pytest.raises(NotFoundError):
        client.exports.create(dataset_name="no-such-dataset", name="x")
    with pytest.raises(InvalidArgumentError):
        client.exports.create(dataset_name=dataset.name, name="x", format="no-such-format")
    with pytest.raises(PermissionDeniedError):
        viewer.exports.create(dataset_name=dataset.name, name="viewer may not")
    assert viewer.datasets.get(dataset.name).id == dataset.id


def test_api_key_is_required_and_checked(client):
    url = client._transport.base_url
    with Client(url, api_key="wrong-key") as wrong, pytest.raises(UnauthenticatedError):
        wrong.datasets.list()
    with Client(url, api_key="wrong-key") as wrong, pytest.raises(UnauthenticatedError):
        wrong.exports.get("any-dataset", "any export")


def test_an_unreachable_server_raises_unavailable():
    with Client("http://127.0.0.1:9", api_key="k", timeout=10) as down, pytest.raises(UnavailableError):
        down.datasets.list()
