"""Report evidence is written with NUL escaped (jsonb cannot hold \\u0000)."""
from django.db import migrations, models

import moderation.models


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0005_report_handles'),
    ]

    operations = [
        migrations.AlterField(
            model_name='report',
            name='evidence',
            field=models.JSONField(blank=True, default=list,
                                   decoder=moderation.models.EvidenceDecoder,
                                   encoder=moderation.models.EvidenceEncoder),
        ),
    ]
