from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from portal.scrub import scrub

from .cadence import apply_default
from .models import Batch, Connection, Flow, SyncCycle
from .scheduling import remove_schedule, sync_schedule


@receiver(pre_save, sender=Flow)
def flow_default_cadence(sender, instance, raw=False, **kwargs):
    if not raw:
        apply_default(instance)


@receiver(post_save, sender=Flow)
def flow_saved(sender, instance, **kwargs):
    sync_schedule(instance)


@receiver(post_delete, sender=Flow)
def flow_deleted(sender, instance, **kwargs):
    remove_schedule(instance.pk)


# Stored messages a person reads (customer users too) never keep a secret, whoever saves them.
_MESSAGE_FIELDS = {Connection: ("last_check_message",), Flow: ("outage_message",), Batch: ("last_error",),
                   SyncCycle: ("message", "progress")}


@receiver(pre_save)
def scrub_stored_messages(sender, instance, raw=False, **kwargs):
    if raw or sender not in _MESSAGE_FIELDS:
        return
    for name in _MESSAGE_FIELDS[sender]:
        value = getattr(instance, name, "")
        if value:
            setattr(instance, name, scrub(value))
