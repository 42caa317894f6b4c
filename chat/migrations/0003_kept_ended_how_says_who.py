"""A kept conversation's end is said from its owner's side: who ended it."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0002_history"),
    ]

    operations = [
        migrations.AlterField(
            model_name="keptconversation",
            name="ended_how",
            field=models.CharField(
                blank=True, max_length=12,
                choices=[("left", "You left"), ("partner_left", "Stranger left"),
                         ("blocked", "You blocked"), ("reported", "You reported"),
                         ("disconnected", "Connection lost"),
                         ("banned", "Ended by a moderator")]),
        ),
    ]
