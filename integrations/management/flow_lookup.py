from django.core.management.base import CommandError

from ..models import Flow


def find_flow(ref):
    """A flow by id, name or kind (the kind when only one flow has it)."""
    qs = Flow.objects.select_related("tenant", "source", "target")
    if str(ref).isdigit():
        flow = qs.filter(pk=int(ref)).first()
        if flow:
            return flow
    by_name = list(qs.filter(name=ref))
    if len(by_name) == 1:
        return by_name[0]
    by_kind = list(qs.filter(kind=ref))
    if len(by_kind) == 1:
        return by_kind[0]
    if len(by_name) + len(by_kind) > 1:
        names = ", ".join(f"{f.pk} ({f.tenant.name}: {f.name})" for f in by_name + by_kind)
        raise CommandError(f'"{ref}" matches several flows: {names}. Give the flow id.')
    raise CommandError(f'No flow "{ref}". Give a flow id, name or kind (see the admin, Integrations > Flows).')
