"""The user model: email is the login, the role decides staff access."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower


class Role(models.TextChoices):
    USER = "USER", "User"
    ADMIN = "ADMIN", "Admin"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # Addresses are compared case-insensitively everywhere, so store one canonical form.
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str) -> User:
        return self.get(email__iexact=self.normalize_email(username))

    def create_user(self, email: str, password: str | None = None, **extra_fields) -> User:
        email = self.normalize_email(email)
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra_fields) -> User:
        extra_fields["role"] = Role.ADMIN
        extra_fields["is_superuser"] = True
        extra_fields.setdefault("is_active", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True, max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.USER)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    # Names are optional, so `createsuperuser --noinput` needs only DJANGO_SUPERUSER_EMAIL and
    # DJANGO_SUPERUSER_PASSWORD, like `ensure_superuser`.
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_staff(self) -> bool:
        """Admins are staff: one role field decides, so the two can never disagree."""
        return self.role == Role.ADMIN

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.first_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = User.objects.normalize_email(self.email)


API_KEY_MARKER = "dk_"
API_KEY_PREFIX_LENGTH = 8
API_KEY_NAME_MAX_LENGTH = 100


class ApiKey(models.Model):
    """A long-lived credential for integrations, acting as its owner with the owner's scoping.

    The secret is shown once and never stored: only its SHA-256 is kept. A secret of
    `secrets.token_urlsafe(32)` carries 256 random bits, so unlike a password it cannot be guessed
    from a dictionary and a slow, salted hash would add cost to every request and no safety.
    """

    # Read by `audit.services.audit_context_from_request` to label requests made with a key.
    is_api_key = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=API_KEY_NAME_MAX_LENGTH)
    prefix = models.CharField(
        max_length=16, unique=True, help_text="The start of the key, to recognise it in lists."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # When the last API_KEY_USED audit row was written; throttles those rows per key.
    use_audited_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("name"),
                condition=models.Q(revoked_at__isnull=True),
                name="accounts_apikey_active_name_unique",
            ),
        ]
        indexes = [models.Index(fields=["owner", "-created_at"], name="accounts_apikey_owner_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
