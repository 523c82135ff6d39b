import pytest
from django.core.management import call_command

from accounts.models import Role, User

pytestmark = pytest.mark.django_db


def test_createsuperuser_noinput_needs_only_email_and_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-passphrase")

    call_command("createsuperuser", interactive=False, verbosity=0)

    admin = User.objects.get()
    assert admin.email == "root@example.com"
    assert admin.role == Role.ADMIN and admin.is_superuser and admin.is_staff
    assert admin.check_password("a-long-admin-passphrase")
