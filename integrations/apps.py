from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from integrations.audit_targets import audit_targets_register
        from integrations.receivers import run_finished_announce
        from media_analysis.signals import run_finished

        audit_targets_register()
        run_finished.connect(run_finished_announce, dispatch_uid="integrations.run_finished")
