"""Each detector's statistic moves the way its description claims, on generated media."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import c2pa
import cv2
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from mlserver.detectors import (
    AudioSpectrumDetector,
    DetectorResult,
    ErrorLevelDetector,
    FrequencySpectrumDetector,
    ProvenanceDetector,
    TemporalConsistencyDetector,
)
from mlserver.errors import MediaProcessingError

Analyze = Callable[..., DetectorResult]
DECLARED_FAKE = 0.9
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SD_PARAMETERS = (
    "a lighthouse at dusk\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 256x256"
)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Drishtiksha tests"),
        ]
    )


# --- PROVENANCE-METADATA-V1 -------------------------------------------------------------


def test_png_with_generation_parameters_is_declared_fake(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    picture = media_tools.pink_rgb(128, 128, seed=1)
    generated = analyze(
        ProvenanceDetector(),
        media_tools.save_png(tmp_path / "generated.png", picture, {"parameters": SD_PARAMETERS}),
    )
    plain = analyze(ProvenanceDetector(), media_tools.save_png(tmp_path / "plain.png", picture))

    assert generated.fake_probability >= DECLARED_FAKE
    assert "Stable Diffusion" in generated.note
    # No metadata is no evidence: neither a FAKE nor a weak REAL.
    assert plain.abstained and plain.fake_probability is None
    assert plain.abstain_reason.startswith("no provenance metadata found (C2PA, XMP, EXIF")
    assert plain.payload["dimensions"] == {"width": 128, "height": 128}


def test_comfyui_prompt_chunk_is_declared_fake(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    workflow = json.dumps({"3": {"class_type": "KSampler", "inputs": {"steps": 20}}})
    path = media_tools.save_png(
        tmp_path / "comfy.png", media_tools.pink_rgb(64, 64, seed=2), {"prompt": workflow}
    )
    result = analyze(ProvenanceDetector(), path)
    assert result.fake_probability >= DECLARED_FAKE
    assert any("ComfyUI" in item for item in result.payload["metrics"]["evidence"])


def test_xmp_digital_source_type_in_a_jpeg_is_declared_fake(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="{AI_SOURCE_TYPE}"/></rdf:RDF></x:xmpmeta>'
    ).encode()
    picture = media_tools.pink_rgb(64, 64, seed=3)
    declared = media_tools.save_jpeg(tmp_path / "declared.jpg", picture, 90, xmp=xmp)
    assert analyze(ProvenanceDetector(), declared).fake_probability >= DECLARED_FAKE


@pytest.mark.parametrize(
    ("software", "is_generator"),
    [("Adobe Firefly (Beta)", True), ("Midjourney v6", True), ("GIMP 2.10.34", False)],
)
def test_exif_software_names_a_generator_only_when_it_is_one(
    media_tools: SimpleNamespace,
    analyze: Analyze,
    tmp_path: Path,
    software: str,
    is_generator: bool,
) -> None:
    exif = Image.Exif()
    exif[0x0131] = software
    path = media_tools.save_jpeg(
        tmp_path / "exif.jpg", media_tools.pink_rgb(64, 64, seed=4), 90, exif=exif
    )
    result = analyze(ProvenanceDetector(), path)
    assert (not result.abstained and result.fake_probability >= DECLARED_FAKE) is is_generator
    # Software that generates nothing is no declaration either way.
    assert result.abstained is not is_generator
    assert f"Software: {software}" in result.payload["metrics"]["declared_software"]


def _test_signer() -> c2pa.Signer:
    """An ES256 signer with a throwaway CA, valid for a day (the trust chain is not trusted).

    C2PA requires an end-entity certificate with the digitalSignature key usage and a
    document-signing-style extended key usage, issued by a CA (not self-signed).
    """
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, *, authority: bool):
        usage = dict.fromkeys(
            (
                "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                "encipher_only", "decipher_only",
            ),
            False,
        )  # fmt: skip
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=authority, crl_sign=authority, **usage
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )
        if not authority:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    authority_key = ec.generate_private_key(ec.SECP256R1())
    signing_key = ec.generate_private_key(ec.SECP256R1())
    authority = certificate("Test CA", authority_key, "Test CA", authority_key, authority=True)
    leaf = certificate("Test Signer", signing_key, "Test CA", authority_key, authority=False)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, authority))
    key = signing_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain, key, None))


def test_c2pa_manifest_declaring_ai_generation_is_declared_fake(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    source = media_tools.save_png(tmp_path / "source.png", media_tools.pink_rgb(64, 64, seed=5))
    signed = tmp_path / "signed.png"
    manifest = {
        "claim_generator_info": [{"name": "test-suite", "version": "1.0"}],
        "title": "signed.png",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [{"action": "c2pa.created", "digitalSourceType": AI_SOURCE_TYPE}]
                },
            }
        ],
    }
    with c2pa.Builder(manifest) as builder:
        builder.sign_file(str(source), str(signed), _test_signer())

    result = analyze(ProvenanceDetector(), signed)
    metrics = result.payload["metrics"]
    assert result.fake_probability >= DECLARED_FAKE
    assert metrics["c2pa_manifest_found"] is True
    assert metrics["c2pa_validation_state"] in ("Valid", "Trusted", "Invalid")
    assert metrics["c2pa_claim_generator"] == ["test-suite"]
    assert any("active C2PA manifest" in item for item in metrics["evidence"])
    assert analyze(ProvenanceDetector(), source).payload["metrics"]["c2pa_manifest_found"] is False


def test_container_tags_naming_a_generator_are_declared_fake(
    media_tools: SimpleNamespace,
    analyze: Analyze,
    tmp_path: Path,
    silent_video: Path,
    voice_wav: Path,
) -> None:
    tagged_video = tmp_path / "tagged.mp4"
    media_tools.run_ffmpeg(
        "-i", str(silent_video), "-c", "copy",
        "-metadata", "comment=Generated with Runway Gen-3", str(tagged_video),
    )  # fmt: skip
    tagged_audio = tmp_path / "tagged.mp3"
    media_tools.run_ffmpeg(
        "-i", str(voice_wav), "-metadata", "encoded_by=ElevenLabs", str(tagged_audio)
    )

    video = analyze(ProvenanceDetector(), tagged_video)
    assert video.fake_probability >= DECLARED_FAKE
    assert video.payload["frame_count"] == 20
    assert analyze(ProvenanceDetector(), silent_video).abstained

    audio = analyze(ProvenanceDetector(), tagged_audio)
    assert audio.fake_probability >= DECLARED_FAKE
    assert audio.payload["properties"]["sample_rate"] == 44_100
    assert analyze(ProvenanceDetector(), voice_wav).abstained


# --- ELA-JPEG-V1 ---------------------------------------------------------------------------


def test_pasted_region_has_the_highest_error_levels(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    # The background went through a low-quality JPEG once; a never-compressed patch is
    # pasted onto rows 192-319, columns 128-255 and the whole picture is saved at 92.
    background = media_tools.pink_rgb(512, 512, seed=11)
    once = media_tools.save_jpeg(tmp_path / "once.jpg", background, 60)
    forged = np.array(Image.open(once).convert("RGB"))
    forged[192:320, 128:256] = media_tools.pink_rgb(512, 512, seed=12)[192:320, 128:256]
    forged_path = media_tools.save_jpeg(tmp_path / "forged.jpg", forged, 92)
    clean_path = media_tools.save_jpeg(tmp_path / "clean.jpg", background, 92)

    forged_result = analyze(ErrorLevelDetector(), forged_path)
    clean_result = analyze(ErrorLevelDetector(), clean_path)

    heatmap = np.array(forged_result.payload["heatmap_scores"])
    assert heatmap.shape == (32, 32)
    pasted = np.zeros_like(heatmap, dtype=bool)
    pasted[12:20, 8:16] = True  # 16-pixel cells covering the patch
    assert heatmap[pasted].mean() > 2 * heatmap[~pasted].mean()
    assert pasted[tuple(forged_result.payload["metrics"]["most_unexplained_cell"])]
    assert forged_result.payload["metrics"]["estimated_jpeg_quality"] == 92
    assert forged_result.fake_probability > clean_result.fake_probability
    assert forged_result.fake_probability > 0.5 > clean_result.fake_probability


def test_ela_refuses_non_jpeg_images(analyze: Analyze, pink_png: Path) -> None:
    with pytest.raises(MediaProcessingError, match="needs a JPEG image"):
        analyze(ErrorLevelDetector(), pink_png)


# --- FREQUENCY-SPECTRUM-V1 -----------------------------------------------------------------


@pytest.mark.parametrize("resample", [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC])
def test_upscaled_image_shows_a_high_frequency_deficit(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path, resample: Image.Resampling
) -> None:
    original = Image.fromarray(media_tools.pink_rgb(512, 512, seed=13))
    upscaled = original.resize((256, 256), resample).resize((512, 512), resample)
    original_result = analyze(
        FrequencySpectrumDetector(), media_tools.save_png(tmp_path / "o.png", np.array(original))
    )
    upscaled_result = analyze(
        FrequencySpectrumDetector(), media_tools.save_png(tmp_path / "u.png", np.array(upscaled))
    )

    assert (
        upscaled_result.payload["metrics"]["high_frequency_deficit_db"]
        > original_result.payload["metrics"]["high_frequency_deficit_db"] + 8
    )
    assert upscaled_result.fake_probability > original_result.fake_probability
    assert upscaled_result.fake_probability > 0.5 > original_result.fake_probability


def test_non_integer_resampling_shows_a_periodic_peak(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    original = Image.fromarray(media_tools.pink_rgb(512, 512, seed=14))
    resampled = original.resize((341, 341), Image.Resampling.LANCZOS).resize((512, 512))
    original_peak = analyze(
        FrequencySpectrumDetector(), media_tools.save_png(tmp_path / "o.png", np.array(original))
    )
    resampled_peak = analyze(
        FrequencySpectrumDetector(), media_tools.save_png(tmp_path / "r.png", np.array(resampled))
    )
    assert resampled_peak.payload["metrics"]["periodic_peak_db"] > 10
    assert original_peak.payload["metrics"]["periodic_peak_db"] < 8


def test_spectrum_scores_sampled_video_frames(
    analyze: Analyze, smooth_video: Path, server_settings
) -> None:
    result = analyze(FrequencySpectrumDetector(), smooth_video)
    predictions = result.payload["frame_predictions"]
    stride = result.payload["metrics"]["frame_stride"]
    assert (
        result.payload["frames_analyzed"] == len(predictions) <= server_settings.max_sampled_frames
    )
    assert [p["index"] for p in predictions] == list(range(0, 60, stride))
    assert result.payload["metrics"]["final_average_score"] == pytest.approx(
        result.fake_probability, abs=1e-4
    )


def test_spectrum_refuses_images_too_small_to_tile(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    with pytest.raises(MediaProcessingError, match="tiles"):
        analyze(
            FrequencySpectrumDetector(),
            media_tools.save_png(tmp_path / "tiny.png", media_tools.pink_rgb(48, 48, 1)),
        )


# --- TEMPORAL-CONSISTENCY-V1 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def texture(media_tools: SimpleNamespace) -> np.ndarray:
    return media_tools.pink_rgb(320, 480, seed=21)


def test_spliced_and_flickering_videos_score_higher_than_a_smooth_one(
    media_tools: SimpleNamespace,
    analyze: Analyze,
    tmp_path: Path,
    texture: np.ndarray,
    smooth_video: Path,
) -> None:
    smooth_frames = list(media_tools.panning_frames(texture, 60, (240, 320)))
    other_scene = list(
        media_tools.panning_frames(media_tools.pink_rgb(320, 480, seed=99), 30, (240, 320))
    )
    spliced = media_tools.write_video(tmp_path / "spliced.mp4", smooth_frames[:30] + other_scene)
    flickering = [
        np.clip(frame.astype(np.int16) + 30, 0, 255).astype(np.uint8)
        if 20 <= index < 30 and index % 2
        else frame
        for index, frame in enumerate(smooth_frames)
    ]
    flicker = media_tools.write_video(tmp_path / "flicker.mp4", flickering)

    detector = TemporalConsistencyDetector()
    smooth_result = analyze(detector, smooth_video)
    spliced_result = analyze(detector, spliced)
    flicker_result = analyze(detector, flicker)

    assert spliced_result.fake_probability > 0.5 > smooth_result.fake_probability
    assert flicker_result.fake_probability > 0.5 > smooth_result.fake_probability
    assert spliced_result.payload["metrics"]["most_anomalous_frame"] == 30
    assert 21 <= flicker_result.payload["metrics"]["most_anomalous_frame"] <= 30
    assert spliced_result.payload["metrics"]["suspicious_frames_count"] >= 1
    assert smooth_result.payload["metrics"]["suspicious_frames_count"] == 0


def _cartoon_face(frame: np.ndarray, brightness: int) -> np.ndarray:
    """Draw a frontal cartoon face (which OpenCV's Haar cascade detects) in the centre."""
    face = frame.copy()
    centre = (160, 120)
    skin = (200 + brightness,) * 3
    cv2.ellipse(face, centre, (50, 66), 0, 0, 360, skin, -1)
    for side in (-1, 1):
        cv2.ellipse(face, (160 + side * 22, 106), (11, 6), 0, 0, 360, (40, 40, 40), -1)
        cv2.line(face, (160 + side * 10, 91), (160 + side * 34, 91), (60, 60, 60), 4)
    cv2.line(face, (160, 114), (160, 134), (150, 150, 150), 3)
    cv2.ellipse(face, (160, 152), (19, 6), 0, 0, 360, (70, 70, 70), -1)
    return cv2.GaussianBlur(face, (5, 5), 1.5)


def test_flicker_confined_to_a_face_is_caught_by_the_face_statistic(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path, texture: np.ndarray
) -> None:
    background = list(media_tools.panning_frames(texture, 40, (240, 320)))
    steady = [_cartoon_face(frame, 0) for frame in background]
    flickering = [
        _cartoon_face(frame, 40 if 20 <= index < 28 and index % 2 else 0)
        for index, frame in enumerate(background)
    ]
    detector = TemporalConsistencyDetector()
    steady_result = analyze(detector, media_tools.write_video(tmp_path / "steady.mp4", steady))
    flicker_result = analyze(detector, media_tools.write_video(tmp_path / "face.mp4", flickering))

    metrics = flicker_result.payload["metrics"]
    assert metrics["frames_with_faces"] > 0
    assert metrics["max_face_residual_zscore"] > metrics["max_residual_zscore"]
    assert metrics["max_face_residual_zscore"] > 6
    assert flicker_result.fake_probability > 0.5 > steady_result.fake_probability


def test_temporal_needs_a_video_stream(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    audio_only = media_tools.write_wav(
        tmp_path / "tone.wav", media_tools.synthetic_voice(1.0, 16_000, seed=1), 16_000
    )
    renamed = audio_only.rename(tmp_path / "tone.mp4")
    with pytest.raises(MediaProcessingError, match="no video stream"):
        analyze(TemporalConsistencyDetector(), renamed)


# --- AUDIO-SPECTRUM-V1 ---------------------------------------------------------------------


def test_band_limited_audio_scores_higher_than_full_band(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path, voice_wav: Path
) -> None:
    # A 16 kHz vocoder delivered at 44.1 kHz: resampling down and up leaves nothing above 8 kHz.
    band_limited = tmp_path / "vocoder.wav"
    media_tools.run_ffmpeg(
        "-i", str(voice_wav), "-af", "aresample=16000,aresample=44100", str(band_limited)
    )

    full = analyze(AudioSpectrumDetector(), voice_wav)
    limited = analyze(AudioSpectrumDetector(), band_limited)

    assert full.payload["metrics"]["bandwidth_cutoff_hz"] >= 20_000
    assert 7_500 <= limited.payload["metrics"]["bandwidth_cutoff_hz"] <= 9_500
    assert limited.payload["metrics"]["unused_bandwidth_fraction"] > 0.5
    assert limited.fake_probability > full.fake_probability
    assert limited.fake_probability > 0.5 > full.fake_probability


def _noise_and_tones(path: Path, media_tools: SimpleNamespace) -> Path:
    """Three seconds of seeded pink noise (energy up to Nyquist) mixed with four steady tones,
    two of them inside the 2-8 kHz band the roll-off trend is fitted on."""
    sources = ["anoisesrc=d=3:r=44100:c=pink:a=0.3:seed=42"] + [
        f"sine=f={frequency}:d=3:r=44100" for frequency in (220, 1000, 3000, 5500)
    ]
    inputs = [argument for source in sources for argument in ("-f", "lavfi", "-i", source)]
    media_tools.run_ffmpeg(
        *inputs, "-filter_complex", f"amix=inputs={len(sources)}", "-ac", "1", str(path)
    )
    return path


@pytest.mark.parametrize("source", ["noise_and_tones", "speech_like"])
def test_one_8_khz_low_pass_without_a_cliff_scores_higher_than_full_band(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path, voice_wav: Path, source: str
) -> None:
    """A single ffmpeg ``lowpass=f=8000`` (2 poles, 12 dB/octave) leaves no brick wall for the
    cutoff statistic; the high-band deficit against the 2-8 kHz trend must catch it, while the
    full-band original, speech-like or not, stays on the REAL side."""
    original = (
        voice_wav
        if source == "speech_like"
        else _noise_and_tones(tmp_path / "mix.wav", media_tools)
    )
    low_passed = tmp_path / "low-passed.wav"
    media_tools.run_ffmpeg("-i", str(original), "-af", "lowpass=f=8000", str(low_passed))

    full = analyze(AudioSpectrumDetector(), original)
    limited = analyze(AudioSpectrumDetector(), low_passed)
    full_metrics, limited_metrics = full.payload["metrics"], limited.payload["metrics"]

    # No cliff in either: the brick-wall statistic cannot tell them apart.
    assert full_metrics["bandwidth_cutoff_hz"] == limited_metrics["bandwidth_cutoff_hz"] == 22_050
    assert full_metrics["cutoff_probability"] == limited_metrics["cutoff_probability"]
    # The full band follows its trend; the filtered one falls past the 10 dB even point.
    assert abs(full_metrics["high_band_deficit_db"]) < 3
    assert limited_metrics["high_band_deficit_db"] > 10
    assert (
        limited_metrics["high_band_energy_ratio_db"] < full_metrics["high_band_energy_ratio_db"] - 5
    )
    assert limited_metrics["deficit_probability"] > limited_metrics["cutoff_probability"]
    assert limited.fake_probability == pytest.approx(
        limited_metrics["deficit_probability"], abs=1e-4
    )
    assert limited.fake_probability > full.fake_probability
    assert limited.fake_probability > 0.5 > full.fake_probability
    assert "rolled off" in limited.note
    assert "no vocoder band-limiting" in full.note


def test_descriptive_audio_statistics_measure_what_they_say(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path
) -> None:
    voice = media_tools.synthetic_voice(4.0, 44_100, seed=9)
    voice[voice.size // 2 :] = 0.0  # second half silent
    result = analyze(
        AudioSpectrumDetector(), media_tools.write_wav(tmp_path / "half.wav", voice, 44_100)
    )
    assert result.payload["energy"]["silence_ratio"] == pytest.approx(0.5, abs=0.05)
    assert result.payload["pitch"]["mean_pitch_hz"] == pytest.approx(140, abs=10)
    assert result.payload["pitch"]["pitch_stability_score"] > 0.9
    assert result.payload["properties"]["duration_seconds"] == pytest.approx(4.0, abs=0.01)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [(".mp3", "libmp3lame"), (".ogg", "libvorbis"), (".m4a", "aac"), (".flac", "flac")],
)
def test_audio_decodes_common_formats(
    media_tools: SimpleNamespace,
    analyze: Analyze,
    tmp_path: Path,
    voice_wav: Path,
    suffix: str,
    codec: str,
) -> None:
    encoded = tmp_path / f"voice{suffix}"
    media_tools.run_ffmpeg("-i", str(voice_wav), "-c:a", codec, str(encoded))
    result = analyze(AudioSpectrumDetector(), encoded)
    assert result.payload["properties"]["sample_rate"] == 44_100
    assert result.payload["pitch"]["mean_pitch_hz"] == pytest.approx(140, abs=10)
    assert len(result.payload["visualization"]["spectrogram_data"]) == 64
    # A codec's own band edge and transition are neither a vocoder cutoff nor a roll-off.
    assert result.fake_probability < 0.5


def test_audio_refuses_silent_videos_and_too_short_audio(
    media_tools: SimpleNamespace, analyze: Analyze, tmp_path: Path, silent_video: Path
) -> None:
    with pytest.raises(MediaProcessingError, match="no audio track"):
        analyze(AudioSpectrumDetector(), silent_video)
    short = media_tools.write_wav(
        tmp_path / "short.wav", media_tools.synthetic_voice(0.2, 16_000, seed=1), 16_000
    )
    with pytest.raises(MediaProcessingError, match="at least"):
        analyze(AudioSpectrumDetector(), short)
