"""The names of this app's Celery tasks, defined once: `integrations.<the service it runs>`.

The services enqueue by these names (`drishtiksha.task_send`) rather than by
importing `integrations.tasks`, which imports them.
"""

DELIVERY_ATTEMPT = "integrations.delivery_attempt"
DELIVERIES_RESUME = "integrations.deliveries_resume"
