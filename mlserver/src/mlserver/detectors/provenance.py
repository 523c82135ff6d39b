"""PROVENANCE-METADATA-V1: what the file says about its own origin.

Generators and editing tools increasingly declare synthetic content: C2PA manifests
(read with the ``c2pa-python`` SDK), the IPTC ``DigitalSourceType`` vocabulary in XMP or in
C2PA actions, generation parameters in PNG text chunks (Stable Diffusion web UIs, ComfyUI,
InvokeAI), and generator names in software/encoder fields (EXIF, XMP CreatorTool, container
tags). A declaration is strong evidence; its absence is evidence of nothing, because
metadata is stripped by most uploads and re-encodes: without a declaration either way the
detector abstains ("no evidence") rather than guess.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from PIL import Image

from mlserver.detectors.base import AnalysisContext, Detector, DetectorResult
from mlserver.media import MediaFile, MediaType, ProbeResult, open_image, probe

logger = logging.getLogger(__name__)

# Evidence strengths, as fake probabilities.
DECLARED_AI_SOURCE_PROBABILITY = 0.98
GENERATION_PARAMETERS_PROBABILITY = 0.97
DECLARED_SYNTHETIC_COMPOSITE_PROBABILITY = 0.92
GENERATOR_NAME_PROBABILITY = 0.93
# A declared camera capture (IPTC/C2PA digitalCapture) leans towards authentic, but the
# declaration can be written by anyone unless the C2PA signature is trusted.
DECLARED_CAPTURE_PROBABILITY = 0.3
# Findings above this lean synthetic, findings below it lean captured.
SYNTHETIC_BOUNDARY = 0.5

# IPTC NewsCodes digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/).
SOURCE_TYPE_PROBABILITIES = {
    "trainedAlgorithmicMedia": DECLARED_AI_SOURCE_PROBABILITY,
    "compositeWithTrainedAlgorithmicMedia": DECLARED_SYNTHETIC_COMPOSITE_PROBABILITY,
    "algorithmicMedia": DECLARED_SYNTHETIC_COMPOSITE_PROBABILITY,
    "compositeSynthetic": DECLARED_SYNTHETIC_COMPOSITE_PROBABILITY,
    "digitalCapture": DECLARED_CAPTURE_PROBABILITY,
}

# Lists in the metrics are capped so a file stuffed with tags cannot bloat the answer.
MAX_LISTED_FIELDS = 10
MAX_ERROR_CHARS = 200

# Raw byte scan: files are read in chunks with an overlap longer than any marker, so a
# marker split across two chunks is still found.
SCAN_CHUNK_BYTES = 4 * 1024 * 1024
SCAN_OVERLAP_BYTES = 256
_SOURCE_TYPE_PATTERN = re.compile(rb"digitalsourcetype/([A-Za-z]+)")
# A C2PA manifest store is a JUMBF superbox labelled "c2pa".
_JUMBF_BOX_TYPE = b"jumb"
_C2PA_LABEL = b"c2pa"

# PNG text chunks larger than this are skipped; decompressed text is capped the same way.
MAX_TEXT_BYTES = 4 * 1024 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK_HEADER = struct.Struct(">I4s")
_PNG_CRC_BYTES = 4
_PNG_XMP_KEYWORD = "XML:com.adobe.xmp"

# PNG text keywords written by generation front-ends.
GENERATOR_TEXT_KEYS = {
    "parameters": "Stable Diffusion web UI generation parameters",
    "prompt": "ComfyUI prompt graph",
    "workflow": "ComfyUI workflow",
    "invokeai_metadata": "InvokeAI generation metadata",
    "invokeai_graph": "InvokeAI generation graph",
    "sd-metadata": "InvokeAI generation metadata",
    "dream": "InvokeAI generation command",
}
_SD_PARAMETERS_PATTERN = re.compile(r"\bSteps: \d+, Sampler: ")

# Generator names, matched only in fields that name the producing software (keys below),
# because several names are ordinary words elsewhere.
GENERATOR_NAMES = {
    "Stable Diffusion": r"stable[\s_-]?diffusion|\bsdxl\b",
    "ComfyUI": r"\bcomfyui\b",
    "AUTOMATIC1111": r"\bautomatic1111\b",
    "InvokeAI": r"\binvoke\s?ai\b",
    "NovelAI": r"\bnovel\s?ai\b",
    "Fooocus": r"\bfooocus\b",
    "Midjourney": r"\bmidjourney\b",
    "DALL-E": r"\bdall[\s·.-]?e\b",
    "Adobe Firefly": r"\bfirefly\b",
    "Google Imagen": r"\bimagen\b",
    "Google Veo": r"\bveo\b",
    "Ideogram": r"\bideogram\b",
    "Leonardo.Ai": r"\bleonardo\.ai\b",
    "FLUX": r"\bflux\.1\b|black forest labs",
    "OpenAI Sora": r"\bsora\b",
    "Runway": r"\brunway(ml)?\b",
    "Pika": r"\bpika\b",
    "Luma Dream Machine": r"\bdream machine\b|\bluma\s?labs\b",
    "Kling": r"\bkling\b",
    "Synthesia": r"\bsynthesia\b",
    "HeyGen": r"\bheygen\b",
    "D-ID": r"\bd-id\b",
    "ElevenLabs": r"\beleven\s?labs\b",
    "Play.ht": r"\bplay\.ht\b",
    "Resemble AI": r"\bresemble\s?ai\b",
    "Suno": r"\bsuno\b",
    "Udio": r"\budio\b",
}
_GENERATOR_PATTERNS = {name: re.compile(p, re.IGNORECASE) for name, p in GENERATOR_NAMES.items()}
_PRODUCER_KEY_PATTERN = re.compile(
    r"software|creatortool|tool|encoder|encoded_by|generator|application|producer|"
    r"comment|description|make|model|author|artist|handler_name",
    re.IGNORECASE,
)
_XMP_CREATOR_TOOL_PATTERN = re.compile(r"CreatorTool(?:>|=\")([^<\"]{1,200})")

# EXIF tags that carry free text about the producer.
_EXIF_TEXT_TAGS = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
}
_EXIF_IFD_POINTER = 0x8769
_EXIF_USER_COMMENT = 0x9286
# EXIF UserComment starts with an 8-byte character-code prefix.
_EXIF_COMMENT_PREFIX_BYTES = 8


@dataclass(frozen=True)
class Evidence:
    """One finding: a human-readable description and the fake probability it supports.

    ``None`` for a declaration that leans neither way (an IPTC source type outside the
    vocabulary above): listed in the metrics, but no reason to give a probability.
    """

    description: str
    fake_probability: float | None


class ProvenanceDetector(Detector):
    name = "PROVENANCE-METADATA-V1"
    is_image = True
    is_video = True
    is_audio = True
    description = (
        "Heuristic baseline, not a trained deepfake model: it reads what the file declares "
        "about its origin and never looks at the pixels or samples. It checks C2PA manifests "
        "(read and signature-checked with the c2pa-python SDK), the IPTC DigitalSourceType "
        "vocabulary anywhere in the file (XMP or C2PA actions), generation parameters in PNG "
        "text chunks (Stable Diffusion web UI 'parameters', ComfyUI 'prompt'/'workflow', "
        "InvokeAI), and generator names in software and encoder fields (EXIF, XMP CreatorTool, "
        "ffprobe container tags). A declaration of AI generation (trainedAlgorithmicMedia) "
        "gives a fake probability of 0.98, generation parameters 0.97, a generator name 0.93, "
        "a declared synthetic composite 0.92, a declared camera capture 0.30. With no "
        "declaration either way it abstains (no evidence, no prediction): metadata is stripped "
        "by most uploads, screenshots and re-encodes, so a missing declaration proves nothing. "
        "Known failure modes: metadata can be forged or copied, and only a C2PA signature from "
        "a trusted issuer makes a declaration reliable (the validation state is reported)."
    )

    def analyze(self, media: MediaFile, context: AnalysisContext) -> DetectorResult:
        evidence: list[Evidence] = []
        metrics: dict[str, Any] = {}
        scan = _scan_file(media.path)
        evidence.extend(
            _source_type_evidence(source_type, "embedded metadata")
            for source_type in sorted(scan.source_types)
        )
        metrics["c2pa_manifest_found"] = False
        if scan.has_jumbf:
            evidence.extend(_c2pa_evidence(media.path, metrics))

        settings = context.settings
        info: ProbeResult | None = None
        if media.media_type is MediaType.IMAGE:
            fields, dimensions = _image_text_fields(media.path, settings.max_image_pixels)
        else:
            info = probe(media.path, timeout=settings.ffmpeg_timeout_seconds)
            fields = [(f"container {where}", key, value) for where, key, value in info.tags]
            dimensions = None
        evidence.extend(_text_field_evidence(fields))
        evidence = _deduplicated(evidence)

        metrics["metadata_fields_examined"] = len(fields)
        metrics["evidence"] = [item.description for item in evidence]
        software = [f"{key}: {value}" for _, key, value in fields if _is_producer_key(key)]
        metrics["declared_software"] = software[:MAX_LISTED_FIELDS]

        probability = _combined_probability(evidence)
        payload = _payload(media.media_type, metrics, dimensions, info)
        if probability is None:
            return DetectorResult.abstention(
                _abstain_reason(fields_examined=len(fields), neutral_findings=len(evidence)),
                media_type=media.media_type,
                payload=payload,
            )
        return DetectorResult(
            fake_probability=probability,
            note=_note(evidence, probability),
            media_type=media.media_type,
            payload=payload,
        )


def _c2pa_evidence(path: Path, metrics: dict[str, Any]) -> list[Evidence]:
    read = _read_c2pa(path, metrics)
    if read is None:
        return []
    store, state = read
    metrics["c2pa_manifest_found"] = True
    metrics["c2pa_validation_state"] = state
    findings: list[Evidence] = []
    active = store.get("active_manifest")
    for label, manifest in (store.get("manifests") or {}).items():
        where = "active C2PA manifest" if label == active else "ingredient C2PA manifest"
        generators = _claim_generators(manifest)
        if label == active:
            metrics["c2pa_claim_generator"] = generators
        for generator in generators:
            findings.extend(
                Evidence(
                    f"{where} (signature {state}) was produced by {generator} ({name})",
                    GENERATOR_NAME_PROBABILITY,
                )
                for name in _generator_names(generator)
            )
        for source_type in _manifest_source_types(manifest):
            findings.append(_source_type_evidence(source_type, f"{where} (signature {state})"))
    return findings


def _read_c2pa(path: Path, metrics: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The manifest store as JSON and its validation state, or ``None`` without a manifest.

    A fresh SDK context per read (its objects are not documented as thread-safe); remote
    manifests are never fetched, so an analysis makes no network calls.
    """
    settings = c2pa.Settings.from_dict({"verify": {"remote_manifest_fetch": False}})
    try:
        with c2pa.Context(settings) as context:
            reader = c2pa.Reader.try_create(str(path), context=context)
            if reader is None:
                return None
            with reader:
                return json.loads(reader.json()), reader.get_validation_state()
    except Exception as exc:  # the SDK raises its own error hierarchy; unreadable != fatal
        logger.info("C2PA data in %s could not be read: %s", path.name, exc)
        metrics["c2pa_error"] = str(exc)[:MAX_ERROR_CHARS]
        return None


@dataclass(frozen=True)
class _ScanResult:
    source_types: set[str]
    has_jumbf: bool


def _scan_file(path: Path) -> _ScanResult:
    """Stream the whole file once, looking for IPTC source-type URIs and a JUMBF C2PA box."""
    source_types: set[str] = set()
    saw_jumbf = saw_label = False
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(SCAN_CHUNK_BYTES):
            window = tail + chunk
            source_types.update(m.decode("ascii") for m in _SOURCE_TYPE_PATTERN.findall(window))
            saw_jumbf = saw_jumbf or _JUMBF_BOX_TYPE in window
            saw_label = saw_label or _C2PA_LABEL in window
            tail = window[-SCAN_OVERLAP_BYTES:]
    return _ScanResult(source_types, saw_jumbf and saw_label)


def _source_type_evidence(source_type: str, where: str) -> Evidence:
    return Evidence(
        f"{where} declares IPTC digital source type '{source_type}'",
        SOURCE_TYPE_PROBABILITIES.get(source_type),
    )


def _claim_generators(manifest: dict[str, Any]) -> list[str]:
    names: list[str] = []
    if isinstance(manifest.get("claim_generator"), str):
        names.append(manifest["claim_generator"])
    for info in manifest.get("claim_generator_info") or []:
        if isinstance(info, dict) and info.get("name"):
            names.append(str(info["name"]))
    return names


def _manifest_source_types(manifest: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            uri = action.get("digitalSourceType") if isinstance(action, dict) else None
            if isinstance(uri, str) and uri:
                found.append(uri.rstrip("/").rsplit("/", 1)[-1])
    return found


def _image_text_fields(
    path: Path, max_pixels: int
) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """Every free-text metadata field of an image, as (where, key, value), and its size."""
    fields: list[tuple[str, str, str]] = []
    with open_image(path, max_pixels=max_pixels) as image:
        dimensions = {"width": image.width, "height": image.height}
        if image.format == "PNG":
            texts, raw_exif = _png_text_chunks(path)
            fields.extend(("PNG text chunk", key, value) for key, value in texts)
            xmp = dict(texts).get(_PNG_XMP_KEYWORD)
            exif = Image.Exif()
            if raw_exif:
                exif.load(raw_exif)
        else:
            exif = image.getexif()
            xmp = image.info.get("xmp")
            comment = image.info.get("comment")
            if comment:
                fields.append((f"{image.format} comment", "comment", _as_text(comment)))
    fields.extend(_exif_fields(exif))
    if xmp:
        fields.extend(
            ("XMP", "CreatorTool", tool)
            for tool in _XMP_CREATOR_TOOL_PATTERN.findall(_as_text(xmp))
        )
    return fields, dimensions


def _png_text_chunks(path: Path) -> tuple[list[tuple[str, str]], bytes | None]:
    """tEXt/zTXt/iTXt key-value pairs and the raw eXIf chunk, read without decoding pixels.

    Walking the chunk list directly finds text chunks written after the image data (where
    some tools put them) without inflating the pixels.
    """
    texts: list[tuple[str, str]] = []
    exif: bytes | None = None
    with path.open("rb") as handle:
        if handle.read(len(_PNG_SIGNATURE)) != _PNG_SIGNATURE:
            return texts, exif
        while header := handle.read(_PNG_CHUNK_HEADER.size):
            if len(header) < _PNG_CHUNK_HEADER.size:
                break
            length, kind = _PNG_CHUNK_HEADER.unpack(header)
            if kind in (b"tEXt", b"zTXt", b"iTXt", b"eXIf") and length <= MAX_TEXT_BYTES:
                data = handle.read(length)
                handle.seek(_PNG_CRC_BYTES, 1)
                if kind == b"eXIf":
                    exif = data
                else:
                    parsed = _png_text(kind, data)
                    if parsed:
                        texts.append(parsed)
            else:
                handle.seek(length + _PNG_CRC_BYTES, 1)
            if kind == b"IEND":
                break
    return texts, exif


def _png_text(kind: bytes, data: bytes) -> tuple[str, str] | None:
    keyword, separator, rest = data.partition(b"\0")
    if not separator:
        return None
    key = keyword.decode("latin-1")
    try:
        if kind == b"tEXt":
            return key, rest.decode("latin-1")
        if kind == b"zTXt":
            return key, _inflate(rest[1:]).decode("latin-1")
        compressed, body = rest[:1] == b"\1", rest[2:]
        _language, _, body = body.partition(b"\0")
        _translated, _, text = body.partition(b"\0")
        return key, (_inflate(text) if compressed else text).decode("utf-8", "replace")
    except zlib.error:
        return key, ""


def _inflate(data: bytes) -> bytes:
    return zlib.decompressobj().decompress(data, MAX_TEXT_BYTES)


def _exif_fields(exif: Image.Exif) -> list[tuple[str, str, str]]:
    fields = [
        ("EXIF", name, _as_text(exif[tag])) for tag, name in _EXIF_TEXT_TAGS.items() if tag in exif
    ]
    comment = exif.get_ifd(_EXIF_IFD_POINTER).get(_EXIF_USER_COMMENT)
    if isinstance(comment, bytes):
        prefix, body = comment[:_EXIF_COMMENT_PREFIX_BYTES], comment[_EXIF_COMMENT_PREFIX_BYTES:]
        encoding = "utf-16" if prefix.startswith(b"UNICODE") else "latin-1"
        comment = body.decode(encoding, "replace")
    if isinstance(comment, str) and comment.strip("\0 "):
        fields.append(("EXIF", "UserComment", comment.strip("\0 ")))
    return fields


def _text_field_evidence(fields: list[tuple[str, str, str]]) -> list[Evidence]:
    findings: list[Evidence] = []
    for where, key, value in fields:
        label = GENERATOR_TEXT_KEYS.get(key.lower())
        if label and where == "PNG text chunk" and value.strip():
            findings.append(
                Evidence(f"{where} '{key}' holds {label}", GENERATION_PARAMETERS_PROBABILITY)
            )
        elif _SD_PARAMETERS_PATTERN.search(value):
            findings.append(
                Evidence(
                    f"{where} '{key}' holds Stable Diffusion generation parameters",
                    GENERATION_PARAMETERS_PROBABILITY,
                )
            )
        if _is_producer_key(key):
            findings.extend(
                Evidence(f"{where} '{key}' names the generator {name}", GENERATOR_NAME_PROBABILITY)
                for name in _generator_names(value)
            )
    return findings


def _combined_probability(evidence: list[Evidence]) -> float | None:
    """The strongest synthetic finding wins; otherwise a capture declaration; otherwise None."""
    probabilities = [p for item in evidence if (p := item.fake_probability) is not None]
    synthetic = [p for p in probabilities if p > SYNTHETIC_BOUNDARY]
    if synthetic:
        return max(synthetic)
    return min(probabilities, default=None)


def _abstain_reason(*, fields_examined: int, neutral_findings: int) -> str:
    checked = "C2PA, XMP, EXIF, PNG text, encoder tags"
    if not fields_examined and not neutral_findings:
        found = f"no provenance metadata found ({checked})"
    else:
        found = (
            f"no declaration of synthetic or captured origin found ({checked}; "
            f"{fields_examined} metadata field{'s' if fields_examined != 1 else ''} read)"
        )
    return f"{found}; metadata is usually stripped on upload, so its absence says nothing"


def _is_producer_key(key: str) -> bool:
    return bool(_PRODUCER_KEY_PATTERN.search(key))


def _generator_names(text: str) -> list[str]:
    return [name for name, pattern in _GENERATOR_PATTERNS.items() if pattern.search(text)]


def _deduplicated(evidence: list[Evidence]) -> list[Evidence]:
    """Strongest first (neutral declarations last), each description once."""
    unique = {item.description: item for item in evidence}
    return sorted(unique.values(), key=_strength, reverse=True)


def _strength(item: Evidence) -> float:
    return -1.0 if item.fake_probability is None else item.fake_probability


def _as_text(value: object) -> str:
    """Metadata text as found in the file, without the NUL padding many writers leave in it."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).replace("\0", "").strip()


def _note(evidence: list[Evidence], probability: float) -> str:
    leaning = [item for item in evidence if item.fake_probability is not None]
    decisive = (
        leaning[0]
        if probability > SYNTHETIC_BOUNDARY
        else min(leaning, key=lambda item: item.fake_probability)
    )
    others = len(evidence) - 1
    suffix = (
        f" ({others} further finding{'s' if others != 1 else ''} in metrics.evidence)"
        if others
        else ""
    )
    if probability > SYNTHETIC_BOUNDARY:
        return f"Declared synthetic origin: {decisive.description}{suffix}."
    return (
        f"Declared capture origin: {decisive.description}{suffix}. "
        "Declarations can be forged unless the C2PA signer is trusted."
    )


def _payload(
    media_type: MediaType,
    metrics: dict[str, Any],
    dimensions: dict[str, int] | None,
    info: ProbeResult | None,
) -> dict[str, Any]:
    """The contract's type-specific fields; the per-frame and per-signal ones are empty, since
    this detector reads metadata only."""
    if media_type is MediaType.IMAGE:
        return {
            "dimensions": dimensions,
            "heatmap_scores": None,
            "visualization_path": None,
            "metrics": metrics,
        }
    if media_type is MediaType.VIDEO:
        return {
            "frame_count": info.video.frame_count if info and info.video else None,
            "frames_analyzed": 0,
            "frame_predictions": [],
            "metrics": metrics,
            "visualization_path": None,
        }
    audio = info.audio if info else None
    return {
        "properties": {
            "duration_seconds": info.duration_seconds if info else None,
            "sample_rate": audio.sample_rate if audio else None,
            "channels": audio.channels if audio else None,
        },
        "pitch": None,
        "energy": None,
        "spectral": None,
        "voice_quality": None,
        "visualization": None,
        "metrics": metrics,
    }
