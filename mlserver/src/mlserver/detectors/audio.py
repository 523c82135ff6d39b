"""AUDIO-SPECTRUM-V1: band-limiting typical of neural vocoders, plus descriptive voice statistics.

Most text-to-speech and voice-conversion systems synthesise at 16-24 kHz. Delivered in a
44.1/48 kHz file, their audio lacks the top of the band, while a microphone recording fills
the band up to the converter's anti-alias filter. Two statistics look for that, on the
long-term spectrum:

- a brick-wall cutoff: the lowest frequency above which the spectrum never comes within
  30 dB of the level just below it, scored as the unused fraction of the band;
- a soft roll-off (a low-pass filter or a gentle resampler leaves no cliff, only a spectrum
  that bends down above its corner): the median shortfall of the band above 8 kHz below the
  trend of the 2-8 kHz band, extrapolated.

The verdict follows the stronger of the two. Spectral flatness, pitch (normalised
autocorrelation), pitch stability, silence ratio, centroid and contrast are measured and
reported, but they do not move the verdict: there is no calibration data behind them in
this server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import resample_poly

from mlserver.detectors.base import AnalysisContext, Detector, DetectorResult
from mlserver.errors import MediaProcessingError
from mlserver.events import EventType
from mlserver.media import MediaFile, MediaType, decode_audio, probe
from mlserver.scoring import bounded_probability, rounded

# Decoding: ffmpeg resamples anything above this rate down (the band above 24 kHz says
# nothing about speech synthesis).
MAX_ANALYSIS_SAMPLE_RATE = 48_000
MIN_AUDIO_SECONDS = 0.5

# Short-time Fourier transform: ~40 ms Hann frames (rounded to a power of two), 75 % overlap,
# processed in blocks so memory stays bounded for long files.
STFT_FRAME_SECONDS = 0.04
STFT_HOP_FRACTION = 0.25
STFT_BLOCK_FRAMES = 512
# A frame quieter than the loudest frame by this much is silence.
SILENCE_DB_BELOW_PEAK = 40.0

# Bandwidth cutoff search on the long-term average spectrum (LTAS), in 250 Hz bands.
BAND_HZ = 250.0
# Cutoffs are searched from 3 kHz up: telephone audio (3.4 kHz) is the narrowest real
# channel, and a sound without content above 3 kHz (a tone, a hum) is narrowband by nature.
MIN_CUTOFF_HZ = 3_000.0
# Level just below a candidate cutoff: the mean of this many bands (1 kHz).
LEVEL_BANDS = 4
# One band is skipped above the candidate for the filter's transition.
GUARD_BANDS = 1
CLIFF_DB = 30.0
# The level just below a cutoff must be real content, within this range of the strongest
# band; otherwise a narrowband sound (a pure tone) would look like a brick-wall filter.
CONTENT_RANGE_DB = 60.0
HIGH_BAND_START_HZ = 8_000.0
ROLLOFF_ENERGY_FRACTION = 0.95

# Soft roll-off. The trend is a straight line in dB against log-frequency fitted to the
# 2-8 kHz bands, each band's level being the median of its bins so that tones and voice
# harmonics do not pull the line. Speech and most natural sound fall smoothly through this
# range and keep falling at about the same rate above it; a low-pass filter bends the
# spectrum down above its corner. A trend rising through 2-8 kHz (sibilant-heavy speech) is
# extrapolated flat: no natural spectrum keeps rising to Nyquist.
ROLLOFF_REFERENCE_START_HZ = 2_000.0
# The high band (from HIGH_BAND_START_HZ) stops this far below a brick-wall cutoff, whose
# transition belongs to the cutoff statistic, and at this fraction of Nyquist, where the
# converter's own anti-alias filter (about 0.45 x the sample rate) bends every recording.
ROLLOFF_CUTOFF_GUARD_HZ = 1_000.0
ROLLOFF_NYQUIST_FRACTION = 0.9
# Less high band than this (e.g. a 22.05 kHz file) leaves too few bands to judge a bend.
ROLLOFF_MIN_HIGH_BAND_HZ = 2_000.0

# Descriptive statistics.
FLATNESS_BAND_HZ = (50.0, 8_000.0)
CONTRAST_FIRST_OCTAVE_HZ = 200.0
CONTRAST_QUANTILE = 0.02
PITCH_SAMPLE_RATE = 16_000
PITCH_FRAME_SECONDS = 0.04
PITCH_HOP_SECONDS = 0.01
PITCH_RANGE_HZ = (60.0, 400.0)
VOICING_THRESHOLD = 0.6
# Among lags within 10 % of the best correlation the shortest wins (avoids octave-low errors).
OCTAVE_TOLERANCE = 0.9
STABLE_STEP_SEMITONES = 1.0
SEMITONES_PER_OCTAVE = 12.0

# Visualisation: a dB matrix, frequency rows (low to high) by time columns.
SPECTROGRAM_FREQUENCY_BINS = 64
SPECTROGRAM_MAX_COLUMNS = 60
SPECTROGRAM_DYNAMIC_RANGE_DB = 80.0
SPECTROGRAM_DECIMALS = 1

# Mapping the unused fraction of the band to a fake probability: a 16 kHz vocoder in a
# 44.1 kHz file leaves 0.64 unused, a 24 kHz one in 48 kHz 0.5, a 128 kbit/s MP3 about 0.25,
# a microphone recording under 0.1; 0.4 is the even point. Low-bitrate codecs and telephone
# audio are band-limited too, so the ceiling stays at 0.92; a full band is weak evidence.
UNUSED_BANDWIDTH_CENTRE = 0.4
UNUSED_BANDWIDTH_SCALE = 0.08
PROBABILITY_FLOOR = 0.3
PROBABILITY_CEILING = 0.92
# Mapping the high-band deficit (dB below the extrapolated trend) to a fake probability: a
# full-band recording, and a lossy codec's band below its cutoff, stay within about 3 dB of the
# trend; one 2-pole (12 dB/octave) low-pass at 8 kHz leaves about 12 dB, two stacked about
# 24 dB; 10 dB is the even point. Microphones with a weak top octave, de-essers and noise
# reduction roll off too, so this evidence is capped below the brick-wall ceiling.
DEFICIT_CENTRE_DB = 10.0
DEFICIT_SCALE_DB = 2.5
DEFICIT_PROBABILITY_CEILING = 0.8

_POWER_EPSILON = 1e-20
_DECIBELS = 10.0


class AudioSpectrumDetector(Detector):
    name = "AUDIO-SPECTRUM-V1"
    is_audio = True
    is_multimodal = True
    description = (
        "Heuristic baseline, not a trained deepfake model. Decodes the audio (or a video's "
        "audio track) with ffmpeg to mono PCM at its own sample rate (at most 48 kHz) and "
        "looks for the band-limiting typical of neural vocoders, which synthesise at 16-24 kHz, "
        "with two statistics on the long-term spectrum. Brick-wall cutoff: the lowest "
        "frequency above which the spectrum never comes within 30 dB of the level just below "
        "it (that level being within 60 dB of the strongest band); the unused fraction of the "
        "file's band (1 - cutoff / Nyquist) is mapped to a fake probability by a logistic "
        "curve (even at 0.4, scale 0.08) bounded to 0.30-0.92. Soft roll-off (a low-pass "
        "filter leaves no cliff, it bends the spectrum down): a straight line in dB against "
        "log-frequency is fitted to the 2-8 kHz band (median level of each 250 Hz band; a "
        "rising line is taken as flat) and extrapolated from 8 kHz up to 1 kHz below the "
        "cutoff or 90 % of Nyquist; the high-band deficit, the median shortfall of that band "
        "below the line in dB, is mapped by a logistic curve (even at 10 dB, scale 2.5 dB) "
        "bounded to 0.30-0.80. The fake probability is the larger of the two; a full band "
        "that follows its trend is weak evidence of authenticity. Spectral flatness, centroid "
        "and contrast, pitch and pitch stability (normalised autocorrelation, 60-400 Hz), "
        "energy and silence ratio are reported for context and do not affect the verdict. "
        "Known failure modes: low-bitrate MP3/AAC/Opus, telephone and conferencing audio are "
        "band-limited without being synthetic; microphones with a weak top octave, distant "
        "or muffled recordings, de-essing and noise reduction roll off the high band and "
        "raise the deficit; a file whose own sample rate is 16 kHz or less leaves nothing to "
        "measure, and below 24 kHz the roll-off is not judged; synthetic speech generated at "
        "44.1/48 kHz, or with added broadband noise, passes."
    )

    def analyze(self, media: MediaFile, context: AnalysisContext) -> DetectorResult:
        settings = context.settings
        reporter = context.reporter
        info = probe(media.path, timeout=settings.ffmpeg_timeout_seconds)
        if info.audio is None or info.audio.sample_rate <= 0:
            if media.media_type is MediaType.VIDEO:
                raise MediaProcessingError("the video has no audio track to analyse")
            raise MediaProcessingError("the file has no decodable audio stream")
        sample_rate = min(info.audio.sample_rate, MAX_ANALYSIS_SAMPLE_RATE)
        from_video = media.media_type is MediaType.VIDEO
        if from_video:
            reporter.emit(EventType.AUDIO_EXTRACTION_START, "Extracting the audio track")
        samples = decode_audio(
            media.path,
            sample_rate=sample_rate,
            max_seconds=settings.audio_max_seconds,
            timeout=settings.ffmpeg_timeout_seconds,
        )
        analysed_seconds = samples.size / sample_rate
        if from_video:
            reporter.emit(
                EventType.AUDIO_EXTRACTION_COMPLETE,
                f"Extracted {analysed_seconds:.1f} s of audio",
            )
        if analysed_seconds < MIN_AUDIO_SECONDS:
            raise MediaProcessingError(
                f"the audio lasts {analysed_seconds:.2f} s; "
                f"at least {MIN_AUDIO_SECONDS} s are needed"
            )

        reporter.emit(EventType.SPECTROGRAM_GENERATION_START, "Computing the spectrogram")
        spectrum = _spectral_summary(samples, sample_rate)
        reporter.emit(EventType.SPECTROGRAM_GENERATION_COMPLETE, "Spectrogram computed")
        pitch_mean, pitch_stability = _pitch(samples, sample_rate, spectrum.silence_threshold_rms)

        nyquist = sample_rate / 2
        unused = 1.0 - spectrum.cutoff_hz / nyquist
        cutoff_probability = bounded_probability(
            unused,
            centre=UNUSED_BANDWIDTH_CENTRE,
            scale=UNUSED_BANDWIDTH_SCALE,
            floor=PROBABILITY_FLOOR,
            ceiling=PROBABILITY_CEILING,
        )
        deficit = spectrum.high_band_deficit_db
        deficit_probability = (
            bounded_probability(
                deficit,
                centre=DEFICIT_CENTRE_DB,
                scale=DEFICIT_SCALE_DB,
                floor=PROBABILITY_FLOOR,
                ceiling=DEFICIT_PROBABILITY_CEILING,
            )
            if deficit is not None
            else None
        )
        # The stronger trace decides: a hard cutoff and a soft roll-off are two forms of the
        # same missing top band, so combining them would count one trace twice.
        probability = max(
            cutoff_probability,
            PROBABILITY_FLOOR if deficit_probability is None else deficit_probability,
        )
        duration = info.duration_seconds or analysed_seconds
        return DetectorResult(
            fake_probability=probability,
            note=_note(
                cutoff=spectrum.cutoff_hz,
                nyquist=nyquist,
                unused=unused,
                deficit=deficit,
                from_video=from_video,
            ),
            media_type=MediaType.AUDIO,
            payload={
                "properties": {
                    "duration_seconds": rounded(duration),
                    "sample_rate": info.audio.sample_rate,
                    "channels": info.audio.channels,
                },
                "pitch": {
                    "mean_pitch_hz": rounded(pitch_mean),
                    "pitch_stability_score": rounded(pitch_stability),
                },
                "energy": {
                    "rms_energy": rounded(
                        float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
                    ),
                    "silence_ratio": rounded(spectrum.silence_ratio),
                },
                "spectral": {
                    "spectral_centroid": rounded(spectrum.centroid_hz),
                    "spectral_contrast": rounded(spectrum.contrast_db),
                    "spectral_flatness": rounded(spectrum.flatness),
                    "spectral_rolloff_hz": rounded(spectrum.rolloff_hz),
                    "bandwidth_cutoff_hz": rounded(spectrum.cutoff_hz),
                },
                "voice_quality": None,
                "visualization": {
                    "spectrogram_url": None,
                    "spectrogram_data": spectrum.spectrogram_db,
                },
                "metrics": {
                    "analysis_sample_rate": sample_rate,
                    "analysed_seconds": rounded(analysed_seconds),
                    "truncated": duration > settings.audio_max_seconds,
                    "nyquist_hz": nyquist,
                    "bandwidth_cutoff_hz": rounded(spectrum.cutoff_hz),
                    "unused_bandwidth_fraction": rounded(unused),
                    "cliff_depth_db": rounded(spectrum.cliff_depth_db),
                    "high_band_energy_ratio_db": rounded(spectrum.high_band_ratio_db),
                    "reference_slope_db_per_octave": rounded(spectrum.reference_slope_db),
                    "high_band_deficit_db": rounded(deficit),
                    "cutoff_probability": rounded(cutoff_probability),
                    "deficit_probability": rounded(deficit_probability),
                    "audio_track_of_video": from_video,
                },
            },
        )


@dataclass
class _SpectralSummary:
    cutoff_hz: float
    cliff_depth_db: float | None
    high_band_ratio_db: float | None
    high_band_deficit_db: float | None
    reference_slope_db: float | None
    rolloff_hz: float
    centroid_hz: float | None
    contrast_db: float | None
    flatness: float | None
    silence_ratio: float
    silence_threshold_rms: float
    spectrogram_db: list[list[float]] = field(default_factory=list)


def _spectral_summary(samples: np.ndarray, sample_rate: int) -> _SpectralSummary:
    """One blocked STFT pass: LTAS, per-frame statistics and the pooled spectrogram."""
    frame_length = 2 ** round(math.log2(sample_rate * STFT_FRAME_SECONDS))
    hop = int(frame_length * STFT_HOP_FRACTION)
    if samples.size < frame_length:
        samples = np.pad(samples, (0, frame_length - samples.size))
    frames = sliding_window_view(samples, frame_length)[::hop]
    frame_rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    loudest = float(frame_rms.max())
    if loudest <= 0.0:
        raise MediaProcessingError("the audio is digital silence")
    silence_threshold = loudest * 10 ** (-SILENCE_DB_BELOW_PEAK / (2 * _DECIBELS))
    voiced = frame_rms >= silence_threshold

    frequencies = np.fft.rfftfreq(frame_length, 1.0 / sample_rate)
    window = np.hanning(frame_length).astype(np.float32)
    flatness_bins = (frequencies >= FLATNESS_BAND_HZ[0]) & (frequencies <= FLATNESS_BAND_HZ[1])
    octaves = _octave_slices(frequencies)
    columns = min(SPECTROGRAM_MAX_COLUMNS, len(frames))
    column_of_frame = np.arange(len(frames)) * columns // len(frames)
    pooling = _pooling_matrix(frequencies.size, SPECTROGRAM_FREQUENCY_BINS)
    spectrogram_sum = np.zeros((columns, SPECTROGRAM_FREQUENCY_BINS))
    spectrogram_count = np.zeros(columns)
    ltas_sum = np.zeros(frequencies.size)
    centroid_sum = contrast_sum = flatness_sum = 0.0

    for start in range(0, len(frames), STFT_BLOCK_FRAMES):
        block = frames[start : start + STFT_BLOCK_FRAMES]
        power = np.abs(np.fft.rfft(block * window, axis=1)) ** 2
        columns_here = column_of_frame[start : start + len(block)]
        np.add.at(spectrogram_sum, columns_here, power @ pooling)
        np.add.at(spectrogram_count, columns_here, 1)
        active = power[voiced[start : start + len(block)]]
        if not active.size:
            continue
        ltas_sum += active.sum(axis=0)
        totals = active.sum(axis=1) + _POWER_EPSILON
        centroid_sum += float(np.sum(active @ frequencies / totals))
        band = active[:, flatness_bins] + _POWER_EPSILON
        flatness_sum += float(np.sum(np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)))
        contrast_sum += float(np.sum(_contrast(active, octaves)))

    active_frames = int(np.count_nonzero(voiced))
    ltas = ltas_sum / active_frames
    cutoff, cliff = _bandwidth_cutoff(ltas, frequencies, sample_rate / 2)
    deficit, slope = _high_band_deficit(ltas, frequencies, cutoff=cutoff, nyquist=sample_rate / 2)
    high = frequencies >= HIGH_BAND_START_HZ
    high_ratio = (
        _DECIBELS * math.log10((ltas[high].sum() + _POWER_EPSILON) / (ltas.sum() + _POWER_EPSILON))
        if high.any() and sample_rate / 2 > HIGH_BAND_START_HZ
        else None
    )
    cumulative = np.cumsum(ltas)
    rolloff = float(
        frequencies[np.searchsorted(cumulative, ROLLOFF_ENERGY_FRACTION * cumulative[-1])]
    )
    spectrogram = _DECIBELS * np.log10(
        spectrogram_sum / spectrogram_count[:, None] + _POWER_EPSILON
    )
    spectrogram = np.maximum(spectrogram, spectrogram.max() - SPECTROGRAM_DYNAMIC_RANGE_DB)
    return _SpectralSummary(
        cutoff_hz=cutoff,
        cliff_depth_db=cliff,
        high_band_ratio_db=high_ratio,
        high_band_deficit_db=deficit,
        reference_slope_db=slope,
        rolloff_hz=rolloff,
        centroid_hz=centroid_sum / active_frames,
        contrast_db=contrast_sum / active_frames if octaves else None,
        flatness=flatness_sum / active_frames if flatness_bins.any() else None,
        silence_ratio=1.0 - active_frames / len(frames),
        silence_threshold_rms=silence_threshold,
        spectrogram_db=np.round(spectrogram.T, SPECTROGRAM_DECIMALS).tolist(),
    )


def _bandwidth_cutoff(
    ltas: np.ndarray, frequencies: np.ndarray, nyquist: float
) -> tuple[float, float | None]:
    """Lowest band edge above which nothing comes within CLIFF_DB of the level just below,
    that level being real content (within CONTENT_RANGE_DB of the strongest band).

    Returns ``(cutoff_hz, depth_db)``; without such a cliff the cutoff is Nyquist and the
    depth ``None``.
    """
    band_of_bin = (frequencies // BAND_HZ).astype(int)
    band_count = int(band_of_bin.max()) + 1
    band_power = np.bincount(band_of_bin, weights=ltas, minlength=band_count) / np.maximum(
        np.bincount(band_of_bin, minlength=band_count), 1
    )
    levels = _DECIBELS * np.log10(band_power + _POWER_EPSILON)
    # Highest level at or above each band, so each candidate is one comparison.
    ceiling_above = np.maximum.accumulate(levels[::-1])[::-1]
    content_floor = float(levels.max()) - CONTENT_RANGE_DB
    first = max(LEVEL_BANDS, int(MIN_CUTOFF_HZ // BAND_HZ))
    for band in range(first, band_count - GUARD_BANDS):
        below = float(levels[band - LEVEL_BANDS : band].mean())
        depth = below - float(ceiling_above[band + GUARD_BANDS])
        if depth >= CLIFF_DB and below >= content_floor:
            return band * BAND_HZ, depth
    return nyquist, None


def _high_band_deficit(
    ltas: np.ndarray, frequencies: np.ndarray, *, cutoff: float, nyquist: float
) -> tuple[float | None, float | None]:
    """Median shortfall (dB) of the bands above 8 kHz below the 2-8 kHz trend, extrapolated.

    Returns ``(deficit_db, slope_db_per_octave)``, ``(None, None)`` when the file has too
    little band above 8 kHz (below its cutoff) or no real content at 2-8 kHz.
    """
    band_of_bin = (frequencies // BAND_HZ).astype(int)
    top = min(cutoff - ROLLOFF_CUTOFF_GUARD_HZ, ROLLOFF_NYQUIST_FRACTION * nyquist)
    first_high = int(HIGH_BAND_START_HZ // BAND_HZ)
    end_high = int(top // BAND_HZ)  # bands lying wholly below ``top``
    if (end_high - first_high) * BAND_HZ < ROLLOFF_MIN_HIGH_BAND_HZ:
        return None, None
    decibels = _DECIBELS * np.log10(ltas + _POWER_EPSILON)
    bands = np.arange(int(ROLLOFF_REFERENCE_START_HZ // BAND_HZ), end_high)
    levels = np.array([np.median(decibels[band_of_bin == band]) for band in bands])
    octaves = np.log2((bands + 0.5) * BAND_HZ)
    reference = bands < first_high
    strongest = _DECIBELS * math.log10(float(ltas.max()) + _POWER_EPSILON)
    if np.median(levels[reference]) < strongest - CONTENT_RANGE_DB:
        return None, None
    slope, intercept = np.polyfit(octaves[reference], levels[reference], 1)
    slope = min(float(slope), 0.0)
    # Re-centred so a clamped (flat) line still passes through the reference band's mean.
    intercept = float(np.mean(levels[reference] - slope * octaves[reference]))
    shortfall = intercept + slope * octaves[~reference] - levels[~reference]
    return float(np.median(shortfall)), slope


def _octave_slices(frequencies: np.ndarray) -> list[slice]:
    slices = []
    low = CONTRAST_FIRST_OCTAVE_HZ
    while 2 * low <= frequencies[-1]:
        indices = np.flatnonzero((frequencies >= low) & (frequencies < 2 * low))
        if indices.size:
            slices.append(slice(int(indices[0]), int(indices[-1]) + 1))
        low *= 2
    return slices


def _contrast(power: np.ndarray, octaves: list[slice]) -> np.ndarray:
    """Per frame: mean over octave bands of (peak - valley) dB, peaks and valleys being the
    top and bottom 2 % of the band's bins (at least one bin)."""
    if not octaves:
        return np.zeros(len(power))
    decibels = _DECIBELS * np.log10(power + _POWER_EPSILON)
    contrasts = []
    for octave in octaves:
        ordered = np.sort(decibels[:, octave], axis=1)
        count = max(1, round(CONTRAST_QUANTILE * ordered.shape[1]))
        contrasts.append(ordered[:, -count:].mean(axis=1) - ordered[:, :count].mean(axis=1))
    return np.mean(contrasts, axis=0)


def _pooling_matrix(bins: int, pooled: int) -> np.ndarray:
    """bins x pooled matrix averaging contiguous frequency bins into ``pooled`` bands."""
    edges = np.linspace(0, bins, pooled + 1).round().astype(int)
    matrix = np.zeros((bins, pooled))
    for index in range(pooled):
        low, high = edges[index], max(edges[index + 1], edges[index] + 1)
        matrix[low:high, index] = 1.0 / (high - low)
    return matrix


def _pitch(
    samples: np.ndarray, sample_rate: int, silence_rms: float
) -> tuple[float | None, float | None]:
    """Mean pitch of voiced frames and the share of voiced-to-voiced steps under a semitone."""
    divisor = math.gcd(PITCH_SAMPLE_RATE, sample_rate)
    signal = resample_poly(samples, PITCH_SAMPLE_RATE // divisor, sample_rate // divisor)
    frame_length = int(PITCH_SAMPLE_RATE * PITCH_FRAME_SECONDS)
    hop = int(PITCH_SAMPLE_RATE * PITCH_HOP_SECONDS)
    if signal.size < frame_length:
        return None, None
    frames = sliding_window_view(signal, frame_length)[::hop]
    min_lag = int(PITCH_SAMPLE_RATE / PITCH_RANGE_HZ[1])
    max_lag = int(PITCH_SAMPLE_RATE / PITCH_RANGE_HZ[0])
    fft_size = 2 ** math.ceil(math.log2(frame_length + max_lag))
    lags = np.arange(min_lag, max_lag + 1)
    unbiased = frame_length / (frame_length - lags)
    pitches = np.full(len(frames), np.nan)
    for start in range(0, len(frames), STFT_BLOCK_FRAMES):
        block = frames[start : start + STFT_BLOCK_FRAMES]
        centred = block - block.mean(axis=1, keepdims=True)
        loud = np.sqrt(np.mean(np.square(centred), axis=1)) >= silence_rms
        spectrum = np.fft.rfft(centred, n=fft_size, axis=1)
        autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2, n=fft_size, axis=1)
        energy = autocorrelation[:, :1] + _POWER_EPSILON
        normalised = autocorrelation[:, min_lag : max_lag + 1] / energy * unbiased
        for row in np.flatnonzero(loud):
            pitches[start + row] = _frame_pitch(normalised[row], min_lag)
    voiced = pitches[np.isfinite(pitches)]
    if voiced.size == 0:
        return None, None
    steps = np.abs(SEMITONES_PER_OCTAVE * np.log2(pitches[1:] / pitches[:-1]))
    steps = steps[np.isfinite(steps)]
    stability = float(np.mean(steps < STABLE_STEP_SEMITONES)) if steps.size else None
    return float(voiced.mean()), stability


def _frame_pitch(correlation: np.ndarray, min_lag: int) -> float:
    best = float(correlation.max())
    if best < VOICING_THRESHOLD:
        return math.nan
    candidates = np.flatnonzero(correlation >= OCTAVE_TOLERANCE * best)
    position = int(candidates[0])
    # Walk up to the local maximum, then refine it with a parabola through three points.
    while position + 1 < correlation.size and correlation[position + 1] > correlation[position]:
        position += 1
    offset = 0.0
    if 0 < position < correlation.size - 1:
        left, centre, right = correlation[position - 1 : position + 2]
        curvature = left - 2 * centre + right
        if curvature < 0:
            offset = 0.5 * (left - right) / curvature
    return PITCH_SAMPLE_RATE / (min_lag + position + offset)


def _note(
    *, cutoff: float, nyquist: float, unused: float, deficit: float | None, from_video: bool
) -> str:
    source = "The video's audio track" if from_video else "The audio"
    if unused >= UNUSED_BANDWIDTH_CENTRE:
        return (
            f"{source} stops at {cutoff / 1000:.1f} kHz although the file carries up to "
            f"{nyquist / 1000:.1f} kHz ({unused:.0%} of the band unused), as neural vocoders and "
            "low-bitrate codecs produce."
        )
    if deficit is not None and deficit >= DEFICIT_CENTRE_DB:
        return (
            f"{source} falls {deficit:.0f} dB below its own 2-8 kHz trend above 8 kHz: the top "
            "of the band is rolled off, as a low-pass filter or band-limited synthesis leaves "
            "it (muffled microphones and noise reduction do so too)."
        )
    reach = (
        f"has a cutoff at {cutoff / 1000:.1f} kHz of {nyquist / 1000:.1f} kHz"
        if cutoff < nyquist
        else f"shows no brick-wall cutoff below {nyquist / 1000:.1f} kHz"
    )
    rolloff = (
        f" and a high-band deficit of {deficit:.1f} dB against its 2-8 kHz trend"
        if deficit is not None
        else ""
    )
    return (
        f"{source} {reach}{rolloff}; no vocoder band-limiting. Full-band synthetic speech "
        "would also pass this test."
    )
