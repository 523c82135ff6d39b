"""WSGI entry point, for management tools that expect one; the server itself runs ASGI."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drishtiksha.settings")

application = get_wsgi_application()
