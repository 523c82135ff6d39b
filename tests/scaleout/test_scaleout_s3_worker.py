"""Workers on other machines need no shared disk: with S3 storage a worker subprocess analyses an
uploaded video it can only have read from the bucket.

The S3 server is moto's (ThreadedMotoServer on a free loopback port, bucket created here). The web
side (this process) stores the upload through `STORAGES["default"]` built from the settings'
own S3 options; the `celery worker` subprocess gets STORAGE_BACKEND=s3 and the AWS_* variables
instead, and a MEDIA_ROOT that is an empty, read-only directory. That directory is still empty at
the end, the fake inference server received exactly the uploaded bytes (size and SHA-256), and
deleting the media removes the original and the thumbnail from the bucket. The worker probes the
upload and makes its poster from the bucket too.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator

import boto3
import botocore.exceptions
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer

from drishtiksha.settings.base import _MEDIA_STORAGES
from media_analysis.choices import AnalysisStatus, RunStatus
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from tests.fixtures.pipeline import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BUCKET = "drishtiksha-scaleout"
REGION = "us-east-1"
ACCESS_KEY = "scaleout-access-key"
SECRET_KEY = "scaleout-secret-key"


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
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


@pytest.fixture
def s3_everywhere(s3_endpoint, s3_client, fast_pipeline, tmp_path, monkeypatch):
    """S3 as the default storage here and in any worker started afterwards; MEDIA_ROOT an empty
    directory nobody is meant to write to. Yields that directory."""
    media_root = tmp_path / "no-local-media"
    media_root.mkdir()
    media_root.chmod(stat.S_IRUSR | stat.S_IXUSR)
    fast_pipeline.MEDIA_ROOT = media_root
    fast_pipeline.STORAGES = {
        **fast_pipeline.STORAGES,
        "default": {
            "BACKEND": _MEDIA_STORAGES["s3"]["BACKEND"],
            "OPTIONS": {
                **_MEDIA_STORAGES["s3"]["OPTIONS"],
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
            },
        },
    }
    for name, value in {
        "STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    yield media_root
    media_root.chmod(stat.S_IRWXU)


def _keys(s3_client) -> set[str]:
    listing = s3_client.list_objects_v2(Bucket=BUCKET)
    return {item["Key"] for item in listing.get("Contents", [])}


def _exists(s3_client, key: str) -> bool:
    try:
        s3_client.head_object(Bucket=BUCKET, Key=key)
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def test_a_worker_with_only_s3_analyses_an_upload_and_delete_empties_the_bucket(
    s3_everywhere, s3_client, fake_inference, worker_process, bearer_client, media_file
):
    media_root = s3_everywhere
    # The storage this process uses has no local paths: it really is the bucket.
    with pytest.raises(NotImplementedError):
        default_storage.path("videos/anything.mp4")
    worker_process(concurrency=3, name="s3-only")
    clip = media_file("clip.mp4", seconds=2)
    uploaded = clip.read_bytes()
    digest = hashlib.sha256(uploaded).hexdigest()

    response = bearer_client.post(
        "/api/v1/media",
        {"media": SimpleUploadedFile("clip.mp4", uploaded, content_type="video/mp4")},
        format="multipart",
    )

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    media = Media.objects.get(pk=data["id"])
    assert media.sha256 == digest
    stored = s3_client.get_object(Bucket=BUCKET, Key=media.file.name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == digest

    run = wait_for(
        lambda: AnalysisRun.objects.filter(
            pk=data["latestRun"]["id"], status__in=RunStatus.final()
        ).first(),
        timeout=60,
    )

    assert run.status == RunStatus.ANALYZED
    # The worker probed the file and made its poster from the bucket, with no local path.
    media.refresh_from_db()
    assert media.prepared_at is not None and media.metadata["video"]["width"] == 160
    assert media.file.name and media.thumbnail.name == f"thumbnails/{media.pk}.jpg"
    assert _keys(s3_client) == {media.file.name, media.thumbnail.name}
    analyses = DeepfakeAnalysis.objects.filter(run=run)
    assert sorted(a.model_name for a in analyses) == sorted(m.name for m in fake_inference.models)
    assert {a.status for a in analyses} == {AnalysisStatus.COMPLETED}
    received = fake_inference.analyze_requests()
    assert len(received) == len(fake_inference.models)
    for request in received:
        assert (request.size, request.sha256) == (len(uploaded), digest)
        assert request.filename == f"{media.pk}.mp4"
    # Neither the worker nor the web side ever put a media file on local disk.
    assert list(media_root.rglob("*")) == []

    deleted = bearer_client.delete(f"/api/v1/media/{media.pk}")

    assert deleted.status_code == 200, deleted.content
    assert not Media.objects.filter(pk=media.pk).exists()
    assert not _exists(s3_client, media.file.name)
    assert not _exists(s3_client, media.thumbnail.name)
    assert _keys(s3_client) == set()
