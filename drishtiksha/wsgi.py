"""WSGI entry point, for management tools that expect one; the server itself runs ASGI."""

from django.core.wsgi import get_wsgi_application

from drishtiksha.settings import use_environment_settings

use_environment_settings()

application = get_wsgi_application()
