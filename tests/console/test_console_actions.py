"""Admin actions change state only through the services the API uses."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage

from accounts.models import Role, User
from audit.models import AuditAction, AuditEvent, AuditVia
from media_analysis.choices import AnalysisStatus, Prediction, RunStatus, Verdict
from media_analysis.models import AnalysisRun, DeepfakeAnalysis, Media
from tests.factories import AnalysisRunFactory, DeepfakeAnalysisFactory, UserFactory
from tests.fixtures.pipeline import stored_media

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

USERS_URL = "/admin/accounts/user/"
MEDIA_URL = "/admin/media_analysis/media/"
RUNS_URL = "/admin/media_analysis/analysisrun/"


def act(client, url: str, action: str, objects, **extra) -> list[str]:
    """Run a changelist action on `objects`; returns the messages the admin showed."""
    response = client.post(
        url,
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects], **extra},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in get_messages(response.wsgi_request)] or [
        str(message) for message in response.context["messages"]
    ]


def finished_media() -> Media:
    """Stored media whose run #1 is over."""
    media = stored_media(status=RunStatus.ANALYZED)
    run = AnalysisRunFactory(media=media, run_number=1, status=RunStatus.ANALYZED)
    Media.objects.filter(pk=media.pk).update(latest_run=run)
    return media


# --- Users ----------------------------------------------------------------------------------------


def test_deactivate_and_activate(staff_client):
    users = UserFactory.create_batch(2)

    messages = act(staff_client, USERS_URL, "deactivate", users)

    assert messages == ["2 user(s) deactivated."]
    assert not User.objects.filter(pk__in=[u.pk for u in users], is_active=True).exists()

    act(staff_client, USERS_URL, "activate", users)

    assert User.objects.filter(pk__in=[u.pk for u in users], is_active=True).count() == 2


def test_an_admin_cannot_deactivate_themselves_but_the_others_still_are(staff_client, staff_user):
    other = UserFactory()

    messages = act(staff_client, USERS_URL, "deactivate", [staff_user, other])

    assert f"{staff_user.email}: You cannot deactivate your own account." in messages
    assert "1 user(s) deactivated." in messages
    staff_user.refresh_from_db()
    other.refresh_from_db()
    assert (staff_user.is_active, other.is_active) == (True, False)


def test_promote_gives_the_admin_and_demote_takes_it_away(staff_client):
    user = UserFactory()

    act(staff_client, USERS_URL, "promote_to_admin", [user])

    user.refresh_from_db()
    assert (user.role, user.is_superuser, user.is_staff) == (Role.ADMIN, True, True)

    act(staff_client, USERS_URL, "demote_to_user", [user])

    user.refresh_from_db()
    assert (user.role, user.is_superuser, user.is_staff) == (Role.USER, False, False)


def test_an_admin_cannot_demote_themselves(staff_client, staff_user):
    messages = act(staff_client, USERS_URL, "demote_to_user", [staff_user])

    assert messages == [f"{staff_user.email}: You cannot demote your own account."]
    staff_user.refresh_from_db()
    assert staff_user.role == Role.ADMIN


def test_role_and_activity_cannot_be_edited_in_the_form(staff_client):
    user = UserFactory()

    response = staff_client.post(
        f"{USERS_URL}{user.pk}/change/",
        {"first_name": "Grace", "last_name": "Hopper", "role": Role.ADMIN, "is_active": ""},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Grace", "Hopper")
    assert (user.role, user.is_active, user.is_superuser) == (Role.USER, True, False)


def action_choices(client, url: str) -> dict[str, str]:
    return dict(client.get(url).context["action_form"].fields["action"].choices)


def test_users_cannot_be_added_or_deleted_here(staff_client):
    user = UserFactory()

    assert staff_client.get(f"{USERS_URL}add/").status_code == 403
    assert "delete_selected" not in action_choices(staff_client, USERS_URL)
    assert staff_client.post(f"{USERS_URL}{user.pk}/delete/", {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=user.pk).exists()


# --- Media ----------------------------------------------------------------------------------------


def test_delete_with_files_removes_rows_and_stored_files(
    staff_client, staff_user, django_capture_on_commit_callbacks
):
    media = [finished_media(), finished_media()]
    names = [m.file.name for m in media]
    assert all(default_storage.exists(name) for name in names)

    confirmation = staff_client.post(
        MEDIA_URL,
        {"action": "delete_selected", "_selected_action": [str(m.pk) for m in media]},
    )
    assert "Are you sure" in confirmation.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        messages = act(staff_client, MEDIA_URL, "delete_selected", media, post="yes")

    assert messages == ["Successfully deleted 2 media."]
    assert not Media.objects.filter(pk__in=[m.pk for m in media]).exists()
    # The owners' trails name the staff member who deleted them, through the web.
    deletions = AuditEvent.objects.filter(action=AuditAction.MEDIA_DELETED)
    assert sorted(deletions.values_list("target_id", flat=True)) == sorted(str(m.pk) for m in media)
    assert {(e.actor_id, e.via) for e in deletions} == {(staff_user.pk, AuditVia.WEB)}
    assert not AnalysisRun.objects.filter(media_id__in=[m.pk for m in media]).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_the_bulk_delete_action_says_it_deletes_files(staff_client):
    choices = action_choices(staff_client, MEDIA_URL)

    assert choices["delete_selected"] == "Delete selected media and their stored files"


def test_deleting_one_media_from_its_page_removes_its_file(
    staff_client, django_capture_on_commit_callbacks
):
    media = finished_media()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"{MEDIA_URL}{media.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not default_storage.exists(media.file.name)


def test_rerun_creates_run_2_and_reports_conflicts_per_item(
    staff_client, staff_user, fake_inference
):
    done = finished_media()
    busy = stored_media(status=RunStatus.PROCESSING)
    busy_run = AnalysisRunFactory(media=busy, run_number=1, status=RunStatus.PROCESSING)
    Media.objects.filter(pk=busy.pk).update(latest_run=busy_run)

    messages = act(staff_client, MEDIA_URL, "rerun", [done, busy])

    assert f"{done.original_filename}: run #2 started." in messages
    assert (
        f"{busy.original_filename}: An analysis of this media is already queued or running."
        in messages
    )
    assert "1 run(s) started." in messages
    second = AnalysisRun.objects.get(media=done, run_number=2)
    assert second.status == RunStatus.QUEUED
    started = AuditEvent.objects.get(action=AuditAction.RUN_STARTED)
    assert (started.target_id, started.actor_id) == (str(second.pk), staff_user.pk)
    assert set(second.analyses.values_list("model_name", flat=True)) == {
        model.name for model in fake_inference.models
    }
    done.refresh_from_db()
    assert (done.latest_run_id, done.status) == (second.pk, RunStatus.QUEUED)
    assert AnalysisRun.objects.filter(media=busy).count() == 1


def change_form_data(client, url: str, **fields: str) -> dict[str, str]:
    """What the change page's form posts: `fields` plus its inlines' management forms."""
    data = dict(fields)
    for inline in client.get(url).context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = str(value)
        for form in formset.initial_forms:
            data[form.add_prefix("id")] = str(form.instance.pk)
    return data


def test_the_description_is_the_only_editable_field(staff_client):
    media = finished_media()
    url = f"{MEDIA_URL}{media.pk}/change/"

    response = staff_client.post(url, change_form_data(staff_client, url, description="x" * 501))

    assert response.status_code == 200  # the form again, with the length error
    media.refresh_from_db()
    assert media.description == ""

    response = staff_client.post(
        url,
        change_form_data(
            staff_client, url, description=" seen ", status="FAILED", original_filename="x.exe"
        ),
    )

    assert response.status_code == 302
    media.refresh_from_db()
    assert (media.description, media.status) == ("seen", RunStatus.ANALYZED)
    assert media.original_filename != "x.exe"


# --- Runs -----------------------------------------------------------------------------------------


def test_refinalize_settles_an_open_run_whose_analyses_are_done(staff_client):
    run = AnalysisRunFactory(status=RunStatus.PROCESSING)
    Media.objects.filter(pk=run.media_id).update(latest_run=run, status=RunStatus.PROCESSING)
    DeepfakeAnalysisFactory(
        run=run, status=AnalysisStatus.COMPLETED, prediction=Prediction.REAL, confidence=0.9
    )
    DeepfakeAnalysisFactory(run=run, status=AnalysisStatus.FAILED)

    messages = act(staff_client, RUNS_URL, "refinalize", [run])

    run.refresh_from_db()
    assert (run.status, run.verdict) == (RunStatus.PARTIALLY_ANALYZED, Verdict.REAL)
    assert run.media.status == RunStatus.PARTIALLY_ANALYZED
    assert messages == [f"{run}: PROCESSING → PARTIALLY_ANALYZED, verdict Likely authentic."]


def test_refinalize_leaves_a_run_with_open_analyses_to_the_pipeline(staff_client):
    run = AnalysisRunFactory(status=RunStatus.PROCESSING)
    DeepfakeAnalysisFactory(run=run, status=AnalysisStatus.PROCESSING)

    messages = act(staff_client, RUNS_URL, "refinalize", [run])

    run.refresh_from_db()
    assert run.status == RunStatus.PROCESSING
    assert "still pending or processing" in messages[0]


def test_runs_and_analyses_are_read_only(staff_client):
    analysis = DeepfakeAnalysisFactory(status=AnalysisStatus.COMPLETED)

    assert (
        staff_client.post(
            f"{RUNS_URL}{analysis.run_id}/change/", {"status": RunStatus.FAILED}
        ).status_code
        == 403
    )
    assert (
        staff_client.post(f"{RUNS_URL}{analysis.run_id}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert (
        staff_client.post(
            f"/admin/media_analysis/deepfakeanalysis/{analysis.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert DeepfakeAnalysis.objects.filter(pk=analysis.pk).exists()
