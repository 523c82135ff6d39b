"""Integrations with the user's own systems: webhooks that announce finished runs."""
