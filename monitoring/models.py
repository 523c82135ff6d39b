"""Health history of the inference server."""

from django.db import models


class HealthStatus(models.TextChoices):
    HEALTHY = "HEALTHY", "Healthy"
    DEGRADED = "DEGRADED", "Degraded"
    UNHEALTHY = "UNHEALTHY", "Unhealthy"
    UNKNOWN = "UNKNOWN", "Unknown"


class ServerHealth(models.Model):
    status = models.CharField(
        max_length=10, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN
    )
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    stats_payload = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    checked_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "server health"
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return f"{self.status} at {self.checked_at:%Y-%m-%d %H:%M:%S}"
