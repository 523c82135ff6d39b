"""Hostile uploads to POST /api/v1/media: always a clean 4xx (or a sanitised 202), never a 5xx,
and never a stray row, stored file or temporary file.

The well-behaved cases (each accepted format, the basic refusals) live in
tests/media_analysis/test_media_api_upload.py; this is the corpus of deliberately bad input.
"""

from __future__ import annotations

import io
import uuid
import wave
import zipfile
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from media_analysis.choices import AnalysisStatus, MediaType, RunStatus
from media_analysis.models import DESCRIPTION_MAX_LENGTH, AnalysisRun, DeepfakeAnalysis, Media
from tests.fixtures.media_files import make_audio, make_video
from tests.fixtures.pipeline import upload_dispatched
from tests.security.conftest import (
    assert_nothing_left,
    assert_only_this_upload_kept,
    assert_refused_before_any_model,
    uuid_routes,
)

URL = "/api/v1/media"
pytestmark = pytest.mark.django_db

ZIP_TRAILER = (
    b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + b"\x00" * 16 + b"\x08\x00\x00\x00evil.exe"
    b"PK\x05\x06" + b"\x00" * 18
)


def _real_zip() -> bytes:
    """A whole archive, central directory and all, as `unzip` or a JAR loader would open it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.sh", "#!/bin/sh\necho owned\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def samples(sample_media, tmp_path_factory) -> dict[str, bytes]:
    """The session's samples plus an Ogg file holding Theora video and an M4A (AAC only), which
    only this module needs."""
    folder = tmp_path_factory.mktemp("video-in-audio")
    return {
        **sample_media,
        "ogg-video": make_video(folder / "clip.ogg").read_bytes(),
        "m4a": make_audio(folder / "voice.m4a").read_bytes(),
    }


def _post(client, *, name: str, content: bytes, content_type: str | None = None, **fields):
    upload = SimpleUploadedFile(name, content, content_type=content_type or "")
    return client.post(URL, {"media": upload, **fields}, format="multipart")


def _assert_refused(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False and body["statusCode"] == status
    assert body["message"] and "Traceback" not in response.content.decode()
    return body


# --- content that is not what it claims ----------------------------------------------------------

# name, bytes builder (from the session's real samples), expected status
REFUSED_CONTENT = {
    "zero-byte image": ("empty.png", lambda s: b"", 400),
    "zero-byte audio": ("empty.mp3", lambda s: b"", 400),
    "truncated video, header only": ("cut.mp4", lambda s: s["mp4"][:64], 400),
    "truncated video, first kilobyte": ("cut.mp4", lambda s: s["mp4"][:1024], 400),
    "truncated png": ("cut.png", lambda s: s["png"][:40], 400),
    "text renamed .png": ("notes.png", lambda s: b"just some notes\n" * 50, 400),
    "text renamed .wav": ("notes.wav", lambda s: b"just some notes\n" * 50, 400),
    "html renamed .jpg": ("page.jpg", lambda s: b"<html><script>alert(1)</script></html>", 400),
    "jpeg header then garbage": ("photo.jpg", lambda s: b"\xff\xd8\xff\xe0" + b"\x5a" * 4096, 400),
    "id3 header then garbage": ("song.mp3", lambda s: b"ID3\x03\x00\x00" + b"\x00\x7f" * 2048, 400),
    "ftyp header then garbage": (
        "clip.mp4",
        lambda s: b"\x00\x00\x00\x18ftypisom" + b"\x13" * 4096,
        400,
    ),
    "svg (script carrier)": ("x.svg", lambda s: b'<svg onload="alert(1)"/>', 415),
    "html": ("x.html", lambda s: b"<script>alert(1)</script>", 415),
    "windows executable": ("setup.exe", lambda s: b"MZ\x90\x00" + b"\x00" * 512, 415),
    "double extension ending in .exe": ("clip.mp4.exe", lambda s: s["mp4"], 415),
    "jpeg named .png": ("still.png", lambda s: s["jpg"], 415),
    "wav named .mp3": ("tone.mp3", lambda s: s["wav"], 415),
    "mp3 named .mp4": ("tone.mp4", lambda s: s["mp3"], 415),
    "png named .mp4, sent as video/mp4": ("still.mp4", lambda s: s["png"], 415),
    "trailing dot hides the extension": ("clip.mp4.", lambda s: s["mp4"], 415),
    "only dots before the extension": ("....mp4", lambda s: s["mp4"], 415),
    # Audio containers hold video just as well; their signature alone cannot tell.
    "h264 video renamed .m4a": ("clip.m4a", lambda s: s["mp4"], 415),
    "ogg holding theora video": ("clip.ogg", lambda s: s["ogg-video"], 415),
    "aac audio renamed .mp4": ("voice.mp4", lambda s: s["m4a"], 415),
}


# Only ffprobe and ffmpeg tell these apart from real media: they are answered 202, and refused
# once the run's dispatch task probes them, before any model sees them. Their reason is the one
# their status above used to carry: unreadable (400) or not what the extension says (415).
REFUSED_BY_THE_PROBE = {
    "truncated video, header only",
    "truncated video, first kilobyte",
    "truncated png",
    "jpeg header then garbage",
    "id3 header then garbage",
    "ftyp header then garbage",
    "h264 video renamed .m4a",
    "ogg holding theora video",
    "aac audio renamed .mp4",
}
PROBE_REASONS = {
    400: "The file could not be read as media: ",
    415: "The file's content ",
}


@pytest.mark.parametrize("case", REFUSED_CONTENT)
def test_content_that_is_not_what_it_claims_is_refused_cleanly(
    case, uploader, samples, fake_inference, settings, upload_temp_dir
):
    name, build, status = REFUSED_CONTENT[case]

    response = _post(uploader, name=name, content=build(samples), content_type="video/mp4")

    if case in REFUSED_BY_THE_PROBE:
        reason = assert_refused_before_any_model(
            uploader, response, settings, upload_temp_dir, fake_inference
        )
        assert reason.startswith(PROBE_REASONS[status]), reason
        if status == 415:
            assert "does not match" in reason
    else:
        _assert_refused(response, status)
        assert_nothing_left(settings, upload_temp_dir)


def test_declared_content_type_is_ignored_in_favour_of_the_content(
    uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    """A real PNG named .png is an image whatever MIME type the client claims."""
    response = _post(
        uploader, name="still.png", content=sample_media["png"], content_type="video/mp4"
    )

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["mediaType"] == MediaType.IMAGE and data["mimetype"] == "image/png"
    media = assert_only_this_upload_kept(settings, upload_temp_dir, data["id"])
    assert media.file.name == f"images/{media.pk}.png"


# Media that is also a ZIP archive (a JAR, an APK, an Office file): ffprobe reads the media part
# happily, so only the archive's end record at the end of the file gives it away.
POLYGLOTS = {
    "png with a zip trailer": ("polyglot.png", lambda s: s["png"] + ZIP_TRAILER),
    "png with a whole zip appended": ("polyglot.png", lambda s: s["png"] + _real_zip()),
    "jpeg with a whole zip appended": ("polyglot.jpg", lambda s: s["jpg"] + _real_zip()),
    "mp4 with a whole zip appended": ("polyglot.mp4", lambda s: s["mp4"] + _real_zip()),
    "wav with a zip and an archive comment": (
        "polyglot.wav",
        # The end record's comment (up to 64 KiB) may follow it; readers still find the archive.
        lambda s: s["wav"] + _real_zip()[:-2] + (1000).to_bytes(2, "little") + b"c" * 1000,
    ),
}


@pytest.mark.parametrize("case", POLYGLOTS)
def test_media_that_is_also_a_zip_archive_is_415(
    case, uploader, samples, fake_inference, settings, upload_temp_dir
):
    name, build = POLYGLOTS[case]
    content = build(samples)
    assert zipfile.is_zipfile(io.BytesIO(content)) or content.endswith(ZIP_TRAILER)

    body = _assert_refused(_post(uploader, name=name, content=content), 415)

    assert "does not match" in body["message"] and "ZIP archive" in body["message"]
    assert body["errors"][0]["field"] == "media"
    assert_nothing_left(settings, upload_temp_dir)


def test_media_that_merely_contains_a_zip_signature_is_accepted(
    uploader, fake_inference, settings, upload_temp_dir
):
    """A sound whose samples happen to spell the ZIP end-record signature is still a sound."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes((b"\x00\x01" * 4000) + b"PK\x05\x06" + b"\x00\x02" * 4000)

    response = _post(uploader, name="tone.wav", content=buffer.getvalue())

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["mediaType"] == MediaType.AUDIO
    assert_only_this_upload_kept(settings, upload_temp_dir, data["id"])


def test_png_with_a_zip_appended_named_zip_is_refused(
    uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    _assert_refused(
        _post(uploader, name="archive.zip", content=sample_media["png"] + ZIP_TRAILER), 415
    )
    assert_nothing_left(settings, upload_temp_dir)


# --- hostile file names --------------------------------------------------------------------------

# sent name -> the name shown back (always a bare, printable file name ending in .mp4)
HOSTILE_NAMES = {
    "unix traversal": ("../../x.mp4", "x.mp4"),
    "windows traversal": ("..\\..\\x.mp4", "x.mp4"),
    "absolute path": ("/etc/cron.d/x.mp4", "x.mp4"),
    "nul byte": ("evil\x00name.mp4", None),
    "control characters": ("a\x01b\x1bc\x7f\t.mp4", "abc.mp4"),
    "rtl override": ("clip\u202e4pm.exe.mp4", "clip4pm.exe.mp4"),
    "zero-width characters": ("cl\u200bip\ufeff.mp4", "clip.mp4"),
    "300 characters": ("a" * 296 + ".mp4", "a" * 251 + ".mp4"),
    "emoji": ("🎥 interview 😀.mp4", "🎥 interview 😀.mp4"),
    "html in the name": ('<img src=x onerror="alert(1)">.mp4', None),
}


@pytest.mark.parametrize("case", HOSTILE_NAMES)
def test_hostile_names_are_stored_under_a_uuid_and_shown_sanitised(
    case, uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    sent, shown = HOSTILE_NAMES[case]

    response = _post(uploader, name=sent, content=sample_media["mp4"])

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["status"] == RunStatus.QUEUED and data["latestRun"]["analyses"] == []
    dispatched = upload_dispatched(data["id"])
    # The name plays no part in the probe: the stored file passed it, and went on to the models.
    assert dispatched.prepared_at is not None
    assert not dispatched.latest_run.error_message
    assert set(
        DeepfakeAnalysis.objects.filter(run=dispatched.latest_run).values_list("status", flat=True)
    ) == {AnalysisStatus.PENDING}
    media = assert_only_this_upload_kept(settings, upload_temp_dir, data["id"])
    assert media.file.name == f"videos/{media.pk}.mp4"
    assert media.thumbnail.name == f"thumbnails/{media.pk}.jpg"
    displayed = data["filename"]
    assert displayed == media.original_filename
    if shown is not None:
        assert displayed == shown
    assert displayed.endswith(".mp4") and 0 < len(displayed) <= 255
    assert "/" not in displayed and "\\" not in displayed and ".." not in displayed
    assert all(ch.isprintable() for ch in displayed)
    assert "\u202e" not in displayed and "\x00" not in displayed


def test_the_download_name_of_a_hostile_upload_is_a_safe_header(
    uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    """The original name goes back out in Content-Disposition: quoted, never able to break it."""
    response = _post(
        uploader, name='semi;colon "quoted" n\u00e4me.mp4', content=sample_media["mp4"]
    )
    assert response.status_code == 202, response.content
    data = response.json()["data"]

    download = uploader.get(f"/api/v1/media/{data['id']}/file?download=1")

    assert download.status_code == 200
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment; filename")
    assert "\r" not in disposition and "\n" not in disposition
    if "filename*=" in disposition:
        assert disposition == "attachment; filename*=utf-8''" + quote(data["filename"])
    else:
        escaped = data["filename"].replace("\\", "\\\\").replace('"', r"\"")
        assert disposition == f'attachment; filename="{escaped}"'


# --- form fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [DESCRIPTION_MAX_LENGTH + 1, 10_000])
def test_long_descriptions_are_400(
    length, uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    response = _post(
        uploader, name="clip.mp4", content=sample_media["mp4"], description="d" * length
    )

    body = _assert_refused(response, 400)
    assert body["errors"][0]["field"] == "description"
    assert_nothing_left(settings, upload_temp_dir)


@pytest.mark.parametrize(
    "fields",
    [
        {"owner": str(uuid.uuid4())},
        {"userId": str(uuid.uuid4())},
        {"status": "ANALYZED"},
        {"sha256": "0" * 64},
        {"id": str(uuid.uuid4())},
        {"mediaType": "IMAGE"},
        {"description": "ok", "isStaff": "true"},
    ],
    ids=lambda fields: ",".join(fields),
)
def test_extra_form_fields_are_400(
    fields, uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    _assert_refused(_post(uploader, name="clip.mp4", content=sample_media["mp4"], **fields), 400)
    assert_nothing_left(settings, upload_temp_dir)


# case -> (the models field sent, the field its error names, or None for a refusal of the whole
# request). An unknown name can only be told from a real one by asking the inference server,
# which the upload asks before it answers; a refused request keeps nothing.
WEIRD_MODEL_LISTS = {
    "unknown": ("NO-SUCH-MODEL", "models"),
    "10000 names": ([f"MODEL-{n}" for n in range(10_000)], None),
    "10000-char name": ("M" * 10_000, "models[0]"),
    "nul byte": ("SIGLIP-LSTM-V4\x00", "models[0]"),
    "traversal": (["SIGLIP-LSTM-V4", "../../etc/passwd"], "models"),
    "sql": ("' OR 1=1 --", "models"),
    "empty": ("", "models[0]"),
    "only separators": (" , ,, ", "models[0]"),
}
UNKNOWN_NAMES = {"unknown": "NO-SUCH-MODEL", "traversal": "../../etc/passwd", "sql": "' OR 1=1 --"}


@pytest.mark.parametrize("case", WEIRD_MODEL_LISTS)
def test_weird_model_lists_are_4xx(
    case, uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    models, field = WEIRD_MODEL_LISTS[case]

    response = _post(uploader, name="clip.mp4", content=sample_media["mp4"], models=models)

    assert 400 <= response.status_code < 500, response.content
    body = response.json()
    assert body["success"] is False
    if field is not None:
        assert body["errors"][0]["field"] == field, body
    if case in UNKNOWN_NAMES:
        assert f"unknown model(s): {UNKNOWN_NAMES[case]}." in body["message"], body
    assert fake_inference.analyze_requests() == []
    assert_nothing_left(settings, upload_temp_dir)


# --- request shapes ------------------------------------------------------------------------------


def test_two_files_in_one_field_keep_exactly_one(
    uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    files = [
        SimpleUploadedFile("one.mp4", sample_media["mp4"]),
        SimpleUploadedFile("two.png", sample_media["png"]),
    ]

    response = uploader.post(URL, {"media": files}, format="multipart")

    assert response.status_code in {202, 400}, response.content
    if response.status_code == 202:
        assert_only_this_upload_kept(settings, upload_temp_dir, response.json()["data"]["id"])
    else:
        assert_nothing_left(settings, upload_temp_dir)


def test_media_and_file_fields_together_keep_exactly_one(
    uploader, sample_media, fake_inference, settings, upload_temp_dir
):
    response = uploader.post(
        URL,
        {
            "media": SimpleUploadedFile("one.mp4", sample_media["mp4"]),
            "file": SimpleUploadedFile("two.png", sample_media["png"]),
        },
        format="multipart",
    )

    assert response.status_code in {202, 400}, response.content
    if response.status_code == 202:
        assert_only_this_upload_kept(settings, upload_temp_dir, response.json()["data"]["id"])
    else:
        assert_nothing_left(settings, upload_temp_dir)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"media": "AAAA", "description": "json"}', "application/json"),
        ("<media>AAAA</media>", "application/xml"),
        ("media=AAAA", "text/plain"),
        ("--x\r\nbroken", "multipart/form-data; boundary=x"),
        ("--x\r\nbroken", "multipart/form-data"),
        ("", "application/octet-stream"),
    ],
    ids=["json", "xml", "text", "truncated multipart", "multipart without boundary", "octet"],
)
def test_bodies_that_are_not_multipart_are_4xx(
    body, content_type, uploader, fake_inference, settings, upload_temp_dir
):
    response = uploader.generic("POST", URL, body, content_type=content_type)

    assert response.status_code in {400, 415}, response.content
    assert response.json()["success"] is False
    assert_nothing_left(settings, upload_temp_dir)


def test_urlencoded_form_without_a_file_is_400(uploader, fake_inference, settings, upload_temp_dir):
    response = uploader.post(
        URL, "media=clip.mp4&description=x", content_type="application/x-www-form-urlencoded"
    )

    _assert_refused(response, 400)
    assert_nothing_left(settings, upload_temp_dir)


def test_the_upload_page_refuses_a_flood_of_fields_with_400(
    user_client, sample_media, fake_inference, settings, upload_temp_dir
):
    """The same hostile body as the API's `10000 names` case, sent to the page."""
    data = {"media": SimpleUploadedFile("clip.mp4", sample_media["mp4"])}
    data["models"] = [f"MODEL-{n}" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)]

    response = user_client.post("/upload/", data)

    assert response.status_code == 400, response.status_code
    assert "text/html" in response["Content-Type"]
    assert_nothing_left(settings, upload_temp_dir)


# --- malformed ids on every route that takes one ------------------------------------------------


UUID_ROUTES = uuid_routes()
MALFORMED_IDS = [
    "not-a-uuid",
    "1",
    "00000000-0000-0000-0000-00000000000g",
    "%2e%2e%2fetc",
    "' OR 1=1",
]


def test_the_resolver_has_id_routes_to_check():
    assert "/api/v1/media/<uuid:media_id>" in UUID_ROUTES
    assert "/runs/<uuid:run_id>/" in UUID_ROUTES
    assert "/api/v1/pdf/report/run/<uuid:run_id>" in UUID_ROUTES


@pytest.mark.parametrize("route", UUID_ROUTES)
def test_malformed_and_unknown_ids_are_404_on_every_id_route(route, user_client, user_api):
    is_api = route.startswith("/api/")
    client = user_api if is_api else user_client
    answered = 0
    for method in ("get", "post", "patch", "delete"):
        for media_id in [*MALFORMED_IDS, str(uuid.uuid4())]:
            url = route.split("<", 1)[0] + media_id + route.split(">", 1)[1]

            response = getattr(client, method)(url)

            if response.status_code == 405:  # this route does not take this method at all
                continue
            answered += 1
            assert response.status_code == 404, (method, url, response.status_code)
            if is_api:
                assert response.json()["success"] is False
            else:
                assert "text/html" in response["Content-Type"]
    assert answered >= len(MALFORMED_IDS) + 1
    assert Media.objects.count() == 0 and AnalysisRun.objects.count() == 0
