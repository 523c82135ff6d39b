import pytest
from django.core.exceptions import ValidationError

from accounts.models import Role, User


@pytest.mark.django_db
def test_create_user_normalises_email_and_hashes_password():
    user = User.objects.create_user("  Ada.Lovelace@Example.COM ", "s3cret-passphrase")

    assert user.email == "ada.lovelace@example.com"
    assert user.password != "s3cret-passphrase"
    assert user.check_password("s3cret-passphrase")
    assert user.role == Role.USER
    assert not user.is_staff
    assert not user.is_superuser
    assert user.is_active


@pytest.mark.django_db
def test_duplicate_email_is_refused_whatever_its_case():
    User.objects.create_user("ada@example.com", "s3cret-passphrase")

    with pytest.raises(ValidationError) as excinfo:
        User.objects.create_user("ADA@example.com", "another-passphrase")

    assert "email" in excinfo.value.message_dict
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_login_lookup_ignores_case():
    created = User.objects.create_user("ada@example.com", "s3cret-passphrase")

    assert User.objects.get_by_natural_key("ADA@EXAMPLE.com") == created


@pytest.mark.django_db
def test_email_is_required():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("   ", "s3cret-passphrase")


@pytest.mark.django_db
def test_create_superuser_is_admin_and_staff():
    admin = User.objects.create_superuser("Root@Example.com", "s3cret-passphrase")

    assert admin.email == "root@example.com"
    assert admin.role == Role.ADMIN
    assert admin.is_staff
    assert admin.is_superuser


@pytest.mark.django_db
def test_role_alone_decides_staff_access():
    user = User.objects.create_user("ada@example.com", "s3cret-passphrase")
    user.role = Role.ADMIN
    assert user.is_staff
