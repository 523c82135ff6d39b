"""The `STORAGE_BACKEND=s3` configuration, end to end against a local S3 server.

The storage is built from the settings module itself, evaluated with S3 environment variables, so
the test fails if that configuration (or the packages it needs) stops working.
"""

from __future__ import annotations

import importlib.util
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import botocore.exceptions
import pytest
from django.core.files import File
from django.core.files.storage import Storage
from django.core.files.storage.handler import StorageHandler
from moto.server import ThreadedMotoServer

import drishtiksha.settings.base

BUCKET = "drishtiksha-media"
REGION = "us-east-1"
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=BUCKET)
    return client


def _settings_with_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> ModuleType:
    """Evaluate the project's settings module afresh under the given environment."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DRISHTIKSHA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DJANGO_SECRET_KEY", "s3-storage-test")
    spec = importlib.util.spec_from_file_location(
        "drishtiksha_settings_under_test", drishtiksha.settings.base.__file__
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def s3_storage(monkeypatch, tmp_path, s3_endpoint: str, s3_client) -> Storage:
    configured = _settings_with_env(
        monkeypatch,
        tmp_path,
        STORAGE_BACKEND="s3",
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_S3_ENDPOINT_URL=s3_endpoint,
        AWS_S3_REGION_NAME=REGION,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
    )
    assert configured.STORAGES["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    return StorageHandler(configured.STORAGES)["default"]


def test_s3_storage_saves_opens_checks_and_deletes_private_objects(
    s3_storage: Storage, s3_client
) -> None:
    data = bytes(range(256)) * 4096
    key = f"videos/{uuid.uuid4()}.mp4"

    assert s3_storage.save(key, File(io.BytesIO(data), name="clip.mp4")) == key

    assert s3_storage.exists(key)
    assert s3_storage.size(key) == len(data)
    with s3_storage.open(key) as opened:
        assert opened.read() == data
        opened.seek(5000)
        assert opened.read(100) == data[5000:5100]

    grants = s3_client.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert all(grant["Grantee"].get("URI") != ALL_USERS for grant in grants)
    # Readable only through a signed, expiring URL.
    assert "X-Amz-Signature=" in s3_storage.url(key)

    s3_storage.delete(key)

    assert not s3_storage.exists(key)
    with pytest.raises(botocore.exceptions.ClientError):
        s3_client.head_object(Bucket=BUCKET, Key=key)


def test_s3_storage_never_replaces_a_stored_object(s3_storage: Storage, s3_client) -> None:
    key = f"images/{uuid.uuid4()}.png"
    s3_storage.save(key, File(io.BytesIO(b"first"), name="x.png"))

    second = s3_storage.save(key, File(io.BytesIO(b"second"), name="x.png"))

    assert second != key
    assert s3_client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"first"
    assert s3_client.get_object(Bucket=BUCKET, Key=second)["Body"].read() == b"second"
