from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from portal.search_indexes import trigram_indexes

# AuditEntryAdmin.search_fields: a reference found in a million entries through an index (the action id is
# searched whole, on its own B-tree index: a trigram index of random hex ids would be large and slow to keep).
AUDIT_SEARCH = {
    "audit_source_ref_trgm": "UPPER(source_ref::text)",
    "audit_target_ref_trgm": "UPPER(target_ref::text)",
}


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_sec_tenantless_security_entries"),
    ]

    operations = [
        TrigramExtension(),
        trigram_indexes("audit_auditentry", AUDIT_SEARCH),
    ]
