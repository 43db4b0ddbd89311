from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from . import role_guard, roles, tenancy
from .models import Membership


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def membership_changed(sender, instance, **kwargs):
    if kwargs.get("raw"):
        return
    user = instance.user
    roles.sync_user_groups(user)
    role_guard.confine_customer(user)
    tenancy.forget(user)


def groups_after_migrate(sender, **kwargs):
    # Runs after each app's migrations; by the last app every permission exists.
    roles.ensure_groups()


post_migrate.connect(groups_after_migrate, dispatch_uid="portal.roles.ensure_groups")
