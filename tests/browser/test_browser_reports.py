"""Model report pages of audio and images in Chromium: the spectrogram and the heatmap overlay
are painted, and nothing logs an error, also for payloads with odd values."""

from __future__ import annotations

import pytest

from media_analysis.choices import MediaType
from tests.factories import (
    DEFAULT_PASSWORD,
    UserFactory,
    audio_result_payload,
    image_result_payload,
)
from tests.fixtures.pipeline import stored_media
from tests.pages.conftest import finished_run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Share of a canvas's pixels that must be painted for it to count as drawn.
PAINTED_SHARE = 0.5
PAINTED_PIXELS = """(id) => {
    const canvas = document.getElementById(id);
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted += 1;
    return painted / (canvas.width * canvas.height);
}"""


@pytest.fixture
def reports(transactional_db, media_file) -> dict:
    """An audio and an image analysis of one user, created before the browser starts."""
    user = UserFactory()
    sound = stored_media(
        owner=user,
        media_type=MediaType.AUDIO,
        extension="wav",
        mimetype="audio/wav",
        content=media_file("voice.wav").read_bytes(),
        original_filename="voice.wav",
    )
    picture = stored_media(
        owner=user,
        media_type=MediaType.IMAGE,
        extension="png",
        mimetype="image/png",
        content=media_file("photo.png", size="320x240").read_bytes(),
        original_filename="photo.png",
    )

    def odd_audio(**options):
        payload = audio_result_payload(**options)
        payload["energy"]["silence_ratio"] = -0.3
        payload["pitch"] = None
        return payload

    audio = finished_run(
        sound, models=(("MEL-SPECTROGRAM-CNN-V3", "REAL", 0.8),), payload=odd_audio
    )
    image = finished_run(
        picture, models=(("DISTIL-DIRE-V1", "FAKE", 0.66),), payload=image_result_payload
    )
    return {
        "email": user.email,
        "audio": audio.analyses.get().pk,
        "image": image.analyses.get().pk,
    }


def test_audio_and_image_reports_draw_their_figures(reports, asgi_server, browser_page, screenshot):
    page, problems = browser_page
    page.goto(f"{asgi_server}/accounts/login/")
    page.get_by_label("Email").fill(reports["email"])
    page.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server}/")

    page.goto(f"{asgi_server}/analyses/{reports['audio']}/")
    assert page.evaluate("() => document.getElementById('spectrogram').height") == 128
    assert page.evaluate(PAINTED_PIXELS, "spectrogram") > PAINTED_SHARE
    assert page.get_by_text("Share of silence", exact=True).is_visible()
    screenshot(page, "model-report-audio")

    page.goto(f"{asgi_server}/analyses/{reports['image']}/")
    page.wait_for_function("() => document.getElementById('heatmap-image').complete")
    assert page.evaluate(PAINTED_PIXELS, "heatmap-canvas") > 0
    page.get_by_label("Heatmap opacity").fill("20")
    assert page.evaluate("() => document.getElementById('heatmap-canvas').style.opacity") == "0.2"
    screenshot(page, "model-report-image")

    assert problems.messages == []
