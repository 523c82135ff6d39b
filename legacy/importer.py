"""Import the Node version's PostgreSQL database: users, media, runs, analyses, server health.

The old database is only read: its connection is opened read-only (every transaction of the
session is READ ONLY, which the server enforces) and read in one REPEATABLE READ snapshot, so a
system still writing to it is seen at one instant. Rows are written here in dependency order
(users → media → runs → analyses → server health), each in its own transaction, so one bad row
is skipped with its reason and the rest goes on.

What is kept: ids (an old id that is not a UUID becomes a uuid5 derived from the table and the
old id, the same on every import), timestamps, run numbers, result payloads and metadata verbatim,
and the bcrypt password hashes (Django's `BCryptPasswordHasher` checks them; the user's next login
rehashes with the default hasher). Media files are copied, from the old local upload folder or over
HTTP (Cloudinary), into this project's storage layout, and their size and SHA-256 computed.

Running it again is safe: a row whose id is already here is counted as already present and left
as it is. Server health rows have no id here (an integer sequence), so a row counts as present
when one with the same time, status and response time exists.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import requests
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import Model
from psycopg.rows import dict_row

from accounts.models import Role, User
from drishtiksha.errors import DomainError
from media_analysis.choices import AnalysisStatus, MediaType, Prediction, RunStatus
from media_analysis.formats import (
    FORMATS_BY_EXTENSION,
    SIGNATURE_BYTES,
    STORAGE_FOLDERS,
    TRAILER_BYTES,
    ends_with_zip_archive,
    extension_of,
)
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from media_analysis.services.ingest import display_filename, media_format_check
from media_analysis.verdict import verdict_compute
from monitoring.models import HealthStatus, ServerHealth

logger = logging.getLogger(__name__)

# Derived ids live in a namespace of their own, so they are the same on every import.
LEGACY_ID_NAMESPACE = uuid.UUID("6f1c2a52-3a4e-5b0e-9d51-8c3f0e7b2a10")
DEFAULT_DOWNLOAD_TIMEOUT_SECONDS = 60.0
COPY_CHUNK_BYTES = 1024 * 1024
# Rows read per round trip from the two tables that may hold many large rows.
SOURCE_FETCH_ROWS = 500
HEALTH_BATCH_ROWS = 1000
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")

TABLES = ("User", "Media", "AnalysisRun", "DeepfakeAnalysis", "ServerHealth")


class LegacySourceError(Exception):
    """The old database cannot be read as needed (unreachable, not read-only, not the schema)."""


class _Skip(Exception):
    """A row that cannot be imported; its message is the reason reported."""


@dataclass
class TableCounts:
    imported: int = 0
    present: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class SkippedRow:
    table: str
    legacy_id: str
    reason: str


@dataclass(frozen=True)
class DerivedId:
    table: str
    legacy_id: str
    new_id: uuid.UUID


@dataclass
class ImportReport:
    counts: dict[str, TableCounts] = field(
        default_factory=lambda: {table: TableCounts() for table in TABLES}
    )
    skipped: list[SkippedRow] = field(default_factory=list)
    derived_ids: list[DerivedId] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def skip(self, table: str, legacy_id: Any, reason: str) -> None:
        self.counts[table].skipped += 1
        self.skipped.append(SkippedRow(table=table, legacy_id=str(legacy_id), reason=reason))


@dataclass
class _Progress:
    """What this import knows about: the report, and the legacy rows that exist here now."""

    report: ImportReport
    media_root: Path | None
    download_timeout: float
    users: set[uuid.UUID] = field(default_factory=set)
    media: set[uuid.UUID] = field(default_factory=set)
    runs: set[uuid.UUID] = field(default_factory=set)
    new_runs: set[uuid.UUID] = field(default_factory=set)
    latest_runs: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    _derived: set[tuple[str, str]] = field(default_factory=set)

    def uuid_for(self, *, table: str, value: Any) -> uuid.UUID:
        new_id, derived = legacy_id_to_uuid(table=table, value=value)
        if derived and (table, str(value)) not in self._derived:
            self._derived.add((table, str(value)))
            self.report.derived_ids.append(
                DerivedId(table=table, legacy_id=str(value), new_id=new_id)
            )
        return new_id


class _Outcome(enum.Enum):
    PRESENT = "present"
    IMPORTED = "imported"
    SKIPPED = "skipped"


def _row_import(
    *,
    table: str,
    model: type[Model],
    row: dict[str, Any],
    new_id: uuid.UUID,
    create: Callable[[], None],
    report: ImportReport,
) -> _Outcome:
    """Import one row of the old `table` as `new_id` with `create`, unless it is here already (a
    rerun of the import); counted on the report, and a refused row noted there with its reason."""
    if model.objects.filter(pk=new_id).exists():
        report.counts[table].present += 1
        return _Outcome.PRESENT
    try:
        create()
    except _Skip as skip:
        report.skip(table, row["id"], str(skip))
        return _Outcome.SKIPPED
    report.counts[table].imported += 1
    return _Outcome.IMPORTED


def legacy_id_to_uuid(*, table: str, value: Any) -> tuple[uuid.UUID, bool]:
    """The UUID an old id becomes, and whether it had to be derived (a uuid5 of table and id)."""
    try:
        return uuid.UUID(str(value)), False
    except ValueError:
        return uuid.uuid5(LEGACY_ID_NAMESPACE, f"{table}:{value}"), True


@contextmanager
def legacy_source_open(*, database_url: str) -> Iterator[psycopg.Connection]:
    """A read-only connection to the old database, inside one READ ONLY snapshot transaction.

    Read-only is asked for three ways (the connection's default, the session's characteristics and
    the transaction itself) and then checked, so a pooler that drops startup options cannot turn
    the import into a writer.
    """
    try:
        connection = psycopg.connect(
            database_url,
            options="-c default_transaction_read_only=on",
            connect_timeout=settings.DB_CONNECT_TIMEOUT_SECONDS,
            autocommit=True,
        )
    except psycopg.Error as exc:
        raise LegacySourceError(f"Cannot connect to the old database: {exc}".strip()) from exc
    try:
        connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        connection.autocommit = False
        connection.read_only = True
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with connection.transaction():
            (read_only,) = connection.execute("SHOW transaction_read_only").fetchone()
            if read_only != "on":
                raise LegacySourceError("The old database's session could not be made read-only.")
            yield connection
    finally:
        connection.close()


def _source_tables_check(source: psycopg.Connection) -> None:
    found = {
        name
        for (name,) in source.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    missing = [table for table in TABLES if table not in found]
    if missing:
        raise LegacySourceError(
            "The old database lacks the table(s) "
            + ", ".join(f'"{table}"' for table in missing)
            + "; is it the Node version's database?"
        )


def _rows(source: psycopg.Connection, query: str, *, name: str) -> Iterator[dict[str, Any]]:
    """Rows of `query` fetched in batches through a server-side cursor."""
    with source.cursor(name=name, row_factory=dict_row) as cursor:
        cursor.itersize = SOURCE_FETCH_ROWS
        cursor.execute(query)
        yield from cursor


def _aware(value: datetime | None) -> datetime | None:
    # Prisma's TIMESTAMP(3) columns carry no zone and hold UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _choice(value: Any, choices: type, *, what: str) -> str:
    text = str(value).upper() if value is not None else ""
    if text not in choices.values:
        raise _Skip(f"unknown {what} {value!r}")
    return text


def _validation_reason(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def _timestamps_keep(model: type, pk: Any, **values: datetime | None) -> None:
    """Write timestamps verbatim: `update()` bypasses `auto_now`/`auto_now_add`."""
    model.objects.filter(pk=pk).update(**{k: v for k, v in values.items() if v is not None})


# --- Users ----------------------------------------------------------------------------------------


def user_password_convert(*, legacy_hash: str | None) -> str | None:
    """The old bcrypt hash in Django's `bcrypt$<hash>` format; None when it is not bcrypt."""
    if legacy_hash and legacy_hash.startswith(BCRYPT_PREFIXES):
        return f"bcrypt${legacy_hash}"
    return None


def users_import(*, source: psycopg.Connection, progress: _Progress) -> None:
    report = progress.report
    query = 'SELECT * FROM "User" ORDER BY "createdAt", "id"'
    for row in _rows(source, query, name="legacy_users"):
        user_id = progress.uuid_for(table="User", value=row["id"])
        outcome = _row_import(
            table="User",
            model=User,
            row=row,
            new_id=user_id,
            create=partial(_user_create, row=row, user_id=user_id, report=report),
            report=report,
        )
        if outcome is not _Outcome.SKIPPED:
            progress.users.add(user_id)


def _user_create(*, row: dict[str, Any], user_id: uuid.UUID, report: ImportReport) -> None:
    email = User.objects.normalize_email(row.get("email"))
    if User.objects.filter(email__iexact=email).exists():
        raise _Skip(f"the email {email!r} already belongs to another account here")
    role = _choice(row.get("role") or Role.USER, Role, what="role")
    password = user_password_convert(legacy_hash=row.get("password"))
    if password is None:
        password = make_password(None)
        report.warnings.append(
            f"User {row['id']} ({email}): the old password is not a bcrypt hash; imported with "
            "no usable password (a password reset gives them one)."
        )
    user = User(
        id=user_id,
        email=email,
        first_name=row.get("firstName") or "",
        last_name=row.get("lastName") or "",
        password=password,
        role=role,
        is_superuser=role == Role.ADMIN,
        is_active=bool(row.get("isActive", True)),
    )
    try:
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
        with transaction.atomic():
            user.save(force_insert=True)
            _timestamps_keep(
                User,
                user_id,
                created_at=_aware(row.get("createdAt")),
                updated_at=_aware(row.get("updatedAt") or row.get("createdAt")),
            )
    except ValidationError as exc:
        raise _Skip(_validation_reason(exc)) from exc
    except DatabaseError as exc:
        raise _Skip(f"refused by the database: {exc}") from exc


# --- Media and their files ------------------------------------------------------------------------


def _relative_names(value: str) -> list[str]:
    """Relative paths under the old upload folder that a stored url or public id may name."""
    path = urlsplit(value).path if "://" in value else value
    parts = [p for p in unquote(path).replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return []
    names = ["/".join(parts)]
    if parts[0] == "uploads" and len(parts) > 1:
        names.append("/".join(parts[1:]))
    names.append(parts[-1])
    return names


def _local_file(*, row: dict[str, Any], media_root: Path) -> Path | None:
    root = media_root.resolve()
    for value in (row.get("publicId"), row.get("url")):
        for name in _relative_names(value or ""):
            candidate = (root / name).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
    return None


def _download(*, url: str, timeout: float, into: Any) -> None:
    max_bytes = settings.MAX_UPLOAD_SIZE
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise _Skip(f"file not found: {url} answered HTTP {response.status_code}")
            received = 0
            for chunk in response.iter_content(COPY_CHUNK_BYTES):
                received += len(chunk)
                if received > max_bytes:
                    raise _Skip(f"file at {url} is larger than MAX_UPLOAD_SIZE ({max_bytes} bytes)")
                into.write(chunk)
    except requests.RequestException as exc:
        raise _Skip(f"file not found: {url} could not be downloaded ({exc})") from exc
    into.flush()


@contextmanager
def _media_file(*, row: dict[str, Any], progress: _Progress) -> Iterator[Path]:
    """The old row's file on local disk: from the old upload folder, else downloaded."""
    if progress.media_root is not None:
        local = _local_file(row=row, media_root=progress.media_root)
        if local is not None:
            yield local
            return
    url = row.get("url") or ""
    if urlsplit(url).scheme in ("http", "https"):
        with tempfile.NamedTemporaryFile(suffix=".legacy") as temp:
            _download(url=url, timeout=progress.download_timeout, into=temp)
            yield Path(temp.name)
        return
    where = f" under {progress.media_root}" if progress.media_root else " (no --media-root given)"
    raise _Skip(
        f"file not found: neither publicId {row.get('publicId')!r} nor url {url!r} names a "
        f"file{where}"
    )


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(COPY_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _named_for_format(row: dict[str, Any]) -> str:
    """The name whose extension says the format: the original name, else the stored ones."""
    for value in (row.get("filename"), row.get("publicId"), row.get("url")):
        name = urlsplit(value).path if value and "://" in value else value
        if name and extension_of(name) in FORMATS_BY_EXTENSION:
            return name
    return row.get("filename") or ""


def media_import(*, source: psycopg.Connection, progress: _Progress) -> None:
    report = progress.report
    query = 'SELECT * FROM "Media" ORDER BY "createdAt", "id"'
    for row in _rows(source, query, name="legacy_media"):
        media_id = progress.uuid_for(table="Media", value=row["id"])
        if row.get("latestAnalysisRunId"):
            progress.latest_runs[media_id] = progress.uuid_for(
                table="AnalysisRun", value=row["latestAnalysisRunId"]
            )
        outcome = _row_import(
            table="Media",
            model=Media,
            row=row,
            new_id=media_id,
            create=partial(_media_create, row=row, media_id=media_id, progress=progress),
            report=report,
        )
        if outcome is not _Outcome.SKIPPED:
            progress.media.add(media_id)


def _media_create(*, row: dict[str, Any], media_id: uuid.UUID, progress: _Progress) -> None:
    owner_id = progress.uuid_for(table="User", value=row["userId"])
    if owner_id not in progress.users:
        raise _Skip(f"its user {row['userId']} was not imported")
    status = _choice(row.get("status"), RunStatus, what="status")
    media_type = _choice(row.get("mediaType") or MediaType.UNKNOWN, MediaType, what="media type")
    with _media_file(row=row, progress=progress) as path:
        size = path.stat().st_size
        if size > settings.MAX_UPLOAD_SIZE:
            raise _Skip(f"its file is larger than MAX_UPLOAD_SIZE ({settings.MAX_UPLOAD_SIZE})")
        with path.open("rb") as handle:
            head = handle.read(SIGNATURE_BYTES)
            handle.seek(max(size - TRAILER_BYTES, 0))
            tail = handle.read()
        try:
            fmt = media_format_check(filename=_named_for_format(row), head=head, size=size)
        except DomainError as exc:
            raise _Skip(f"its file is not accepted here: {exc.message}") from exc
        if ends_with_zip_archive(tail):
            raise _Skip("its file is not accepted here: a ZIP archive is appended to it")
        if media_type == MediaType.UNKNOWN:
            media_type = fmt.media_type
        elif media_type != fmt.media_type:
            raise _Skip(f"its file is {fmt.media_type.label.lower()}, the row says {media_type}")
        sha256 = _file_digest(path)
        key = f"{STORAGE_FOLDERS[fmt.media_type]}/{media_id}.{fmt.extension}"
        with path.open("rb") as handle:
            stored_name = default_storage.save(key, File(handle))
    created_at = _aware(row.get("createdAt"))
    media = Media(
        id=media_id,
        owner_id=owner_id,
        original_filename=display_filename(row.get("filename") or ""),
        file=stored_name,
        mimetype=row.get("mimetype") or fmt.mimetype,
        size=size,
        description=row.get("description") or "",
        status=status,
        media_type=media_type,
        has_audio=row.get("hasAudio"),
        metadata=row.get("metadata") or {},
        sha256=sha256,
        # Not probed here: its next run probes it first, as for an upload.
        prepared_at=None,
    )
    try:
        media.full_clean(
            exclude=["owner", "latest_run", "derived_from", "thumbnail"],
            validate_unique=False,
            validate_constraints=False,
        )
        with transaction.atomic():
            media.save(force_insert=True)
            _timestamps_keep(
                Media,
                media_id,
                created_at=created_at,
                updated_at=_aware(row.get("updatedAt") or row.get("createdAt")),
            )
    except (ValidationError, DatabaseError) as exc:
        default_storage.delete(stored_name)
        if isinstance(exc, ValidationError):
            raise _Skip(_validation_reason(exc)) from exc
        raise _Skip(f"refused by the database: {exc}") from exc
    logger.info("imported legacy media %s as %s (%d bytes)", row["id"], stored_name, size)


# --- Runs and analyses ----------------------------------------------------------------------------


def runs_import(*, source: psycopg.Connection, progress: _Progress) -> None:
    report = progress.report
    query = 'SELECT * FROM "AnalysisRun" ORDER BY "mediaId", "runNumber", "id"'
    for row in _rows(source, query, name="legacy_runs"):
        run_id = progress.uuid_for(table="AnalysisRun", value=row["id"])
        outcome = _row_import(
            table="AnalysisRun",
            model=AnalysisRun,
            row=row,
            new_id=run_id,
            create=partial(_run_create, row=row, run_id=run_id, progress=progress),
            report=report,
        )
        if outcome is not _Outcome.SKIPPED:
            progress.runs.add(run_id)
        if outcome is _Outcome.IMPORTED:
            progress.new_runs.add(run_id)


def _run_create(*, row: dict[str, Any], run_id: uuid.UUID, progress: _Progress) -> None:
    media_id = progress.uuid_for(table="Media", value=row["mediaId"])
    if media_id not in progress.media:
        raise _Skip(f"its media {row['mediaId']} was not imported")
    status = _choice(row.get("status"), RunStatus, what="status")
    run_number = row.get("runNumber")
    if not isinstance(run_number, int) or run_number < 1:
        raise _Skip(f"run number {run_number!r} is not a positive integer")
    if AnalysisRun.objects.filter(media_id=media_id, run_number=run_number).exists():
        raise _Skip(f"its media already has a run #{run_number} here with another id")
    created_at = _aware(row.get("createdAt"))
    try:
        with transaction.atomic():
            AnalysisRun.objects.create(
                id=run_id,
                media_id=media_id,
                run_number=run_number,
                status=status,
                started_at=created_at if status != RunStatus.QUEUED else None,
            )
            _timestamps_keep(
                AnalysisRun,
                run_id,
                created_at=created_at,
                updated_at=_aware(row.get("updatedAt") or row.get("createdAt")),
            )
    except DatabaseError as exc:
        raise _Skip(f"refused by the database: {exc}") from exc


def analyses_import(*, source: psycopg.Connection, progress: _Progress) -> None:
    """One analysis per (run, model): the old system's retries could leave a second row for the
    same model, so a completed row is preferred, then the latest; the others are skipped."""
    report = progress.report
    query = (
        'SELECT * FROM "DeepfakeAnalysis" ORDER BY "analysisRunId", "modelName", '
        '("status"::text = \'COMPLETED\') DESC, "updatedAt" DESC, "id"'
    )
    for row in _rows(source, query, name="legacy_analyses"):
        analysis_id = progress.uuid_for(table="DeepfakeAnalysis", value=row["id"])
        _row_import(
            table="DeepfakeAnalysis",
            model=DeepfakeAnalysis,
            row=row,
            new_id=analysis_id,
            create=partial(_analysis_create, row=row, analysis_id=analysis_id, progress=progress),
            report=report,
        )


def _analysis_create(*, row: dict[str, Any], analysis_id: uuid.UUID, progress: _Progress) -> None:
    run_id = progress.uuid_for(table="AnalysisRun", value=row["analysisRunId"])
    if run_id not in progress.runs:
        raise _Skip(f"its run {row['analysisRunId']} was not imported")
    status = _choice(row.get("status"), AnalysisStatus, what="status")
    prediction = row.get("prediction")
    if prediction is not None:
        prediction = _choice(prediction, Prediction, what="prediction")
    media_type = row.get("mediaType")
    if media_type is not None:
        media_type = _choice(media_type, MediaType, what="media type")
    model_name = row.get("modelName") or ""
    other = DeepfakeAnalysis.objects.filter(run_id=run_id, model_name=model_name).first()
    if other is not None:
        raise _Skip(f"a second row for model {model_name!r} in its run (kept: {other.pk})")
    updated_at = _aware(row.get("updatedAt") or row.get("createdAt"))
    analysis = DeepfakeAnalysis(
        id=analysis_id,
        run_id=run_id,
        model_name=model_name,
        prediction=prediction,
        confidence=row.get("confidence"),
        status=status,
        error_message=row.get("errorMessage") or "",
        processing_time=row.get("processingTime"),
        media_type=media_type,
        result_payload=row.get("resultPayload"),
        finished_at=updated_at if status in AnalysisStatus.final() else None,
    )
    try:
        analysis.full_clean(exclude=["run"], validate_unique=False, validate_constraints=False)
        with transaction.atomic():
            analysis.save(force_insert=True)
            _timestamps_keep(
                DeepfakeAnalysis,
                analysis_id,
                created_at=_aware(row.get("createdAt")),
                updated_at=updated_at,
            )
    except ValidationError as exc:
        raise _Skip(_validation_reason(exc)) from exc
    except DatabaseError as exc:
        raise _Skip(f"refused by the database: {exc}") from exc


def runs_settle_imported(*, run_ids: set[uuid.UUID]) -> None:
    """Give the imported finished runs this project's verdict, over their imported analyses, and
    link each media without a latest run to its newest one."""
    runs = AnalysisRun.objects.filter(pk__in=run_ids, status__in=RunStatus.final())
    for run in runs.prefetch_related("analyses"):
        analyses = list(run.analyses.all())
        summary = verdict_compute(analyses=analyses)
        finished = max((a.updated_at for a in analyses), default=run.created_at)
        AnalysisRun.objects.filter(pk=run.pk).update(
            verdict=summary.verdict,
            fake_score=summary.fake_score,
            agreement=summary.agreement,
            verdict_reason=summary.reason,
            verdict_details=summary.details(),
            finished_at=finished,
        )


def media_latest_run_link(
    *, media_ids: set[uuid.UUID], latest_runs: dict[uuid.UUID, uuid.UUID]
) -> None:
    """Each imported media without a latest run points at the old one, else at its highest run."""
    unlinked = Media.objects.filter(pk__in=media_ids, latest_run__isnull=True, runs__isnull=False)
    for media in unlinked.distinct():
        wanted = latest_runs.get(media.pk)
        run = media.runs.filter(pk=wanted).first() if wanted else None
        run = run or media.runs.order_by("-run_number").first()
        # `update()`, so that the media's updated_at stays the old one.
        Media.objects.filter(pk=media.pk).update(latest_run=run)


# --- Server health --------------------------------------------------------------------------------


def server_health_import(*, source: psycopg.Connection, progress: _Progress) -> None:
    """Batched: `bulk_create` overwrites `checked_at` (auto_now_add), so the old times are put
    back with one `bulk_update` per batch."""
    report = progress.report
    known = set(ServerHealth.objects.values_list("checked_at", "status", "response_time_ms"))
    batch: list[tuple[ServerHealth, datetime]] = []
    query = 'SELECT * FROM "ServerHealth" ORDER BY "checkedAt", "id"'
    for row in _rows(source, query, name="legacy_health"):
        try:
            status = _choice(row.get("status"), HealthStatus, what="status")
        except _Skip as skip:
            report.skip("ServerHealth", row.get("id"), str(skip))
            continue
        checked_at = _aware(row.get("checkedAt"))
        key = (checked_at, status, row.get("responseTimeMs"))
        if key in known:
            report.counts["ServerHealth"].present += 1
            continue
        known.add(key)
        health = ServerHealth(
            status=status,
            response_time_ms=row.get("responseTimeMs"),
            stats_payload=row.get("statsPayload"),
            error_message=row.get("errorMessage") or "",
        )
        batch.append((health, checked_at))
        if len(batch) >= HEALTH_BATCH_ROWS:
            _health_batch_save(batch, report)
            batch = []
    _health_batch_save(batch, report)


def _health_batch_save(batch: list[tuple[ServerHealth, datetime]], report: ImportReport) -> None:
    if not batch:
        return
    with transaction.atomic():
        rows = ServerHealth.objects.bulk_create([health for health, _ in batch])
        for health, (_, checked_at) in zip(rows, batch, strict=True):
            health.checked_at = checked_at
        ServerHealth.objects.bulk_update(rows, ["checked_at"])
    report.counts["ServerHealth"].imported += len(batch)


# --- The whole import -----------------------------------------------------------------------------


def legacy_database_import(
    *,
    database_url: str,
    media_root: Path | None = None,
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT_SECONDS,
) -> ImportReport:
    """Import everything the old database holds that is not here yet; the report says what."""
    if media_root is not None and not media_root.is_dir():
        raise LegacySourceError(f"{media_root} is not a folder.")
    progress = _Progress(
        report=ImportReport(), media_root=media_root, download_timeout=download_timeout
    )
    with legacy_source_open(database_url=database_url) as source:
        _source_tables_check(source)
        users_import(source=source, progress=progress)
        media_import(source=source, progress=progress)
        runs_import(source=source, progress=progress)
        analyses_import(source=source, progress=progress)
        runs_settle_imported(run_ids=progress.new_runs)
        media_latest_run_link(media_ids=progress.media, latest_runs=progress.latest_runs)
        server_health_import(source=source, progress=progress)
    return progress.report
