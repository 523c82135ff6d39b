from django.apps import AppConfig


class MediaAnalysisConfig(AppConfig):
    name = "media_analysis"
    verbose_name = "Media analysis"

    def ready(self) -> None:
        from media_analysis.audit_targets import audit_targets_register

        audit_targets_register()
