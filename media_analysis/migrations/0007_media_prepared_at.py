import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("media_analysis", "0006_media_robustness_copy"),
    ]

    operations = [
        migrations.AddField(
            model_name="media",
            name="prepared_at",
            field=models.DateTimeField(
                blank=True,
                default=django.utils.timezone.now,
                help_text="When the file passed its probe and got its poster; empty until then.",
                null=True,
            ),
        ),
    ]
