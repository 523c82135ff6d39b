import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Role, User
from tests.factories import UserFactory


@pytest.mark.django_db
def test_ensure_superuser_creates_the_admin_once(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Admin@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-passphrase")

    call_command("ensure_superuser")
    call_command("ensure_superuser")

    admin = User.objects.get()
    assert admin.email == "admin@example.com"
    assert admin.role == Role.ADMIN and admin.is_superuser
    assert admin.check_password("a-long-admin-passphrase")


@pytest.mark.django_db
def test_ensure_superuser_promotes_an_existing_account_without_touching_its_password(monkeypatch):
    existing = UserFactory(email="boss@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "boss@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "ignored-for-existing")

    call_command("ensure_superuser")

    existing.refresh_from_db()
    assert existing.role == Role.ADMIN and existing.is_superuser
    assert not existing.check_password("ignored-for-existing")


def test_ensure_superuser_needs_both_variables(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    with pytest.raises(CommandError):
        call_command("ensure_superuser")
