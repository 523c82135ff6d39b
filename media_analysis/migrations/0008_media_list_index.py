from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("media_analysis", "0007_media_prepared_at"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="media",
            name="media_owner_created_idx",
        ),
        migrations.AddIndex(
            model_name="media",
            index=models.Index(
                condition=models.Q(("derived_from__isnull", True)),
                fields=["owner", "-created_at", "-id"],
                name="media_library_idx",
            ),
        ),
    ]
