"""Checking JD Edwards accounts (F0901, through the reference index) before anything is written."""

from ..posting import Hold


def check_accounts(accounts, keys):
    """Raise Hold for the first of ``keys`` ("BU.OBJ[.SUB]") that is unknown, inactive or non-posting."""
    for key in keys:
        entry = accounts.get(key)
        if entry is None:
            raise Hold(
                f"account {key} is not in F0901",
                code="JDE-ACCOUNT-UNKNOWN",
                help="Map the line to an existing account, or create the account in JD Edwards and refresh the "
                "reference data; then retry.",
            )
        if not entry.active:
            raise Hold(
                f"account {key} is inactive in F0901",
                code="JDE-ACCOUNT-INACTIVE",
                help="Map the line to an active account or reactivate it in JD Edwards; then retry.",
            )
        if not entry.postable:
            raise Hold(
                f"account {key} is a non-posting account in F0901",
                code="JDE-ACCOUNT-NON-POSTING",
                help="Map the line to a posting account (posting edit code blank); then retry.",
            )
