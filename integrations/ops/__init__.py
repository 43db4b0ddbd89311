"""Operations in the admin: the dashboard, readable batch pages, per-batch actions (issue 14).

Everything here is general: driven by Flow, Batch and SyncCycle rows and the systems registry,
never by one flow. Tenant scoping goes through ``portal.tenancy.scope`` / the admins'
``get_queryset`` (``portal.admin_scoping``), like every other admin page.
"""
