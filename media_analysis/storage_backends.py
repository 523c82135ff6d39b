"""Cloudinary as the media storage: private assets, chunked uploads, no local paths.

Stored keys are the ones the ingest service picks (`videos/<uuid>.mp4`, `thumbnails/<uuid>.jpg`).
On Cloudinary a key becomes a public id (the key without its extension) whose resource type
follows from its folder, and every asset uses the `authenticated` delivery type, so nothing can be
fetched without a signature: the app checks ownership and streams files itself.

Credentials go with every SDK call instead of through the SDK's process-wide configuration, so
the storage depends on Django settings (or its own options) only, never on what the process
environment or another caller left in that global.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

import cloudinary.api
import cloudinary.exceptions
import cloudinary.uploader
import cloudinary.utils
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from media_analysis.choices import MediaType
from media_analysis.formats import STORAGE_FOLDERS, THUMBNAIL_FOLDER

# Signed URLs or API credentials are needed to read an `authenticated` asset.
DELIVERY_TYPE = "authenticated"
# Cloudinary refuses chunks under 5 MB (the last one excepted); the SDK itself does not check.
MIN_CHUNK_SIZE = 5 * 1024 * 1024
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
# Cloudinary keeps audio under the `video` resource type.
RESOURCE_TYPES = {
    STORAGE_FOLDERS[MediaType.VIDEO]: "video",
    STORAGE_FOLDERS[MediaType.AUDIO]: "video",
    STORAGE_FOLDERS[MediaType.IMAGE]: "image",
    THUMBNAIL_FOLDER: "image",
}


@dataclass(frozen=True)
class CloudinaryAsset:
    """Where a storage key lives on Cloudinary."""

    public_id: str
    format: str
    resource_type: str


def cloudinary_asset(name: str) -> CloudinaryAsset:
    """Map a storage key to its Cloudinary asset.

    A key outside the known folders is refused rather than guessed: a wrong resource type makes
    Cloudinary answer "not found" on delete, which silently leaves the file behind.
    """
    folder = name.split("/", 1)[0]
    stem, dot, extension = name.rpartition(".")
    resource_type = RESOURCE_TYPES.get(folder)
    if resource_type is None or not dot or "/" in extension:
        raise ValueError(
            f"{name!r} is not a media storage key: expected <folder>/<name>.<extension> with a "
            f"folder among {', '.join(RESOURCE_TYPES)}."
        )
    return CloudinaryAsset(public_id=stem, format=extension.lower(), resource_type=resource_type)


def _credentials(cloudinary_url: str) -> dict[str, str]:
    """Cloud name and API key pair from `cloudinary://<api_key>:<api_secret>@<cloud_name>`."""
    if not cloudinary_url:
        raise ImproperlyConfigured(
            "STORAGE_BACKEND=cloudinary needs CLOUDINARY_URL "
            "(cloudinary://<api_key>:<api_secret>@<cloud_name>)."
        )
    parts = urlsplit(cloudinary_url)
    if parts.scheme != "cloudinary" or not (parts.hostname and parts.username and parts.password):
        raise ImproperlyConfigured(
            "CLOUDINARY_URL must look like cloudinary://<api_key>:<api_secret>@<cloud_name>."
        )
    return {"cloud_name": parts.hostname, "api_key": parts.username, "api_secret": parts.password}


class _BorrowedStream:
    """The caller's file without `close`: the SDK closes what it uploads, but the file is not
    ours (for an upload, closing it would delete its temporary file under the caller's feet)."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def __enter__(self) -> _BorrowedStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


@deconstructible(path="media_analysis.storage_backends.CloudinaryStorage")
class CloudinaryStorage(Storage):
    """Django storage on Cloudinary; every option defaults to its Django setting.

    `upload_prefix` replaces the API host (`https://api.cloudinary.com`), e.g. for a regional
    endpoint or a local stand-in.
    """

    def __init__(
        self,
        *,
        cloudinary_url: str | None = None,
        chunk_size: int | None = None,
        upload_prefix: str | None = None,
    ) -> None:
        self._sdk_options: dict[str, Any] = _credentials(
            settings.CLOUDINARY_URL if cloudinary_url is None else cloudinary_url
        )
        if upload_prefix:
            self._sdk_options["upload_prefix"] = upload_prefix
        self.chunk_size = settings.CLOUDINARY_CHUNK_SIZE if chunk_size is None else chunk_size
        if self.chunk_size < MIN_CHUNK_SIZE:
            raise ImproperlyConfigured(
                f"CLOUDINARY_CHUNK_SIZE must be at least {MIN_CHUNK_SIZE} bytes, "
                f"got {self.chunk_size}."
            )
        self.timeout: float = settings.CLOUDINARY_TIMEOUT_SECONDS
        self.download_url_ttl: int = settings.CLOUDINARY_DOWNLOAD_URL_TTL_SECONDS

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        """Only the length is checked: keys are fresh UUIDs, and probing Cloudinary for each one
        would spend a call of the rate-limited Admin API on every save. `_save` refuses a key
        that turns out to be taken instead of replacing its asset."""
        return not (max_length and len(name) > max_length)

    def _save(self, name: str, content: File) -> str:
        """Upload under the key's own public id and return the key unchanged.

        Videos and audio go up in `chunk_size` pieces read one at a time from `content`, so a
        large upload never sits in memory whole. Images (and posters) are small enough for a
        single request; Cloudinary's own image size limits are far below the chunking range.
        """
        asset = cloudinary_asset(name)
        if content.size == 0:
            raise ValueError(f"Refusing to store {name}: the file is empty.")
        content.seek(0)
        options: dict[str, Any] = {
            **self._sdk_options,
            "public_id": asset.public_id,
            "format": asset.format,
            "resource_type": asset.resource_type,
            "type": DELIVERY_TYPE,
            "overwrite": False,
            "unique_filename": False,
            "use_filename": False,
            # Sent as the multipart file name instead of the local temporary path.
            "filename": PurePosixPath(name).name,
            "timeout": self.timeout,
        }
        if asset.resource_type == "video":
            result = cloudinary.uploader.upload_large(
                _BorrowedStream(content), chunk_size=self.chunk_size, **options
            )
        else:
            result = cloudinary.uploader.upload(content, **options)
        if result.get("existing"):
            raise FileExistsError(f"{name} is already stored; stored media are never replaced.")
        return name

    def delete(self, name: str) -> None:
        """Remove the asset and purge cached copies; a key that is already gone is fine."""
        asset = cloudinary_asset(name)
        result = cloudinary.uploader.destroy(
            asset.public_id,
            resource_type=asset.resource_type,
            type=DELIVERY_TYPE,
            invalidate=True,
            timeout=self.timeout,
            **self._sdk_options,
        )
        if result.get("result") not in ("ok", "not found"):
            raise cloudinary.exceptions.Error(f"Cloudinary did not delete {name}: {result}")

    def _resource(self, name: str) -> dict[str, Any] | None:
        asset = cloudinary_asset(name)
        try:
            return cloudinary.api.resource(
                asset.public_id,
                resource_type=asset.resource_type,
                type=DELIVERY_TYPE,
                timeout=self.timeout,
                **self._sdk_options,
            )
        except cloudinary.exceptions.NotFound:
            return None

    def exists(self, name: str) -> bool:
        return self._resource(name) is not None

    def size(self, name: str) -> int:
        resource = self._resource(name)
        if resource is None:
            raise FileNotFoundError(f"{name} is not stored on Cloudinary.")
        return int(resource["bytes"])

    def url(self, name: str) -> str:
        """A signed download URL that expires after CLOUDINARY_DOWNLOAD_URL_TTL_SECONDS."""
        asset = cloudinary_asset(name)
        return cloudinary.utils.private_download_url(
            asset.public_id,
            asset.format,
            resource_type=asset.resource_type,
            type=DELIVERY_TYPE,
            expires_at=int(time.time()) + self.download_url_ttl,
            **self._sdk_options,
        )

    def _open(self, name: str, mode: str = "rb") -> File:
        """Download into a spooled temporary file and hand it back, rewound.

        The copy must be seekable (range requests, re-reads by the inference client) and must
        not hold a whole video in memory: past FILE_UPLOAD_MAX_MEMORY_SIZE it moves to disk.
        """
        if mode != "rb":
            raise ValueError(f"Stored media open read-only in binary mode, not {mode!r}.")
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - handed open to the caller
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        try:
            with requests.get(self.url(name), stream=True, timeout=self.timeout) as response:
                if response.status_code == 404:
                    raise FileNotFoundError(f"{name} is not stored on Cloudinary.")
                response.raise_for_status()
                for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                    spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return File(spool, name=name)
