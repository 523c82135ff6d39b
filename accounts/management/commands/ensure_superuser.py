"""Create (or promote) the first admin from DJANGO_SUPERUSER_EMAIL / DJANGO_SUPERUSER_PASSWORD."""

import os

from django.core.management.base import BaseCommand, CommandError

from accounts.services import user_ensure_superuser


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if not email or not password:
            raise CommandError("Set DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD.")
        user, created = user_ensure_superuser(email=email, password=password)
        verb = "Created" if created else "Ensured"
        self.stdout.write(self.style.SUCCESS(f"{verb} admin account {user.email}"))
