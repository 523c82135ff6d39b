import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from media_analysis.file_delivery import stored_file_response

CONTENT = bytes(range(256)) * 40  # 10 240 bytes, every offset distinguishable


@pytest.fixture
def stored_name():
    return default_storage.save("videos/sample.mp4", ContentFile(CONTENT))


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_whole_file_without_range(stored_name):
    response = stored_file_response(name=stored_name, content_type="video/mp4")

    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(CONTENT))
    assert _body(response) == CONTENT


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, len(CONTENT) - 1),
        ("bytes=-500", len(CONTENT) - 500, len(CONTENT) - 1),
        ("bytes=10000-999999", 10000, len(CONTENT) - 1),
    ],
)
def test_single_range_is_206_with_exact_bytes(stored_name, header, start, end):
    response = stored_file_response(name=stored_name, content_type="video/mp4", range_header=header)

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert _body(response) == CONTENT[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=20000-", "bytes=500-100", "bytes=-0"])
def test_unsatisfiable_range_is_416(stored_name, header):
    response = stored_file_response(name=stored_name, content_type="video/mp4", range_header=header)

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"


@pytest.mark.parametrize("header", ["items=0-5", "bytes=0-5,10-20", "garbage"])
def test_unsupported_range_forms_fall_back_to_the_whole_file(stored_name, header):
    response = stored_file_response(name=stored_name, content_type="video/mp4", range_header=header)

    assert response.status_code == 200
    assert _body(response) == CONTENT


def test_download_name_sets_attachment_disposition(stored_name):
    response = stored_file_response(
        name=stored_name, content_type="video/mp4", download_name="interview clip.mp4"
    )

    assert response["Content-Disposition"].startswith("attachment;")
    assert "interview" in response["Content-Disposition"]
