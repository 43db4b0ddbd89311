from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Flow
from .scheduling import remove_schedule, sync_schedule


@receiver(post_save, sender=Flow)
def flow_saved(sender, instance, **kwargs):
    sync_schedule(instance)


@receiver(post_delete, sender=Flow)
def flow_deleted(sender, instance, **kwargs):
    remove_schedule(instance.pk)
