"""Shared vocabulary of the seeded sandbox world.

The Expensify policies, categories and tags line up with the JD Edwards chart of
accounts so a demo tenant can be mapped end to end; a few entries are deliberately
broken (an unmapped category, an inactive account, a non-posting account) so the
portal's holds and coverage checks have something real to find.
"""

COMPANY = "00001"

# JD Edwards business units (MCU): code -> (description, posting edit code)
BUSINESS_UNITS = {
    "100": "Headquarters",
    "200": "Field Sales",
    "300": "Engineering",
    "900": "Closed Region (inactive)",
}

# Object accounts used for expenses: object -> description
EXPENSE_OBJECTS = {
    "6100": "Travel - Airfare",
    "6110": "Meals",
    "6120": "Lodging",
    "6130": "Mileage",
    "6200": "Office Supplies",
    "6300": "Software",
    "6400": "Telephone",
    "6500": "Training",
    "6900": "Entertainment",
}

# Balance-sheet offsets the journal balances against.
EMPLOYEE_PAYABLE = ("100", "2100", "")  # reimbursable spend
CARD_CLEARING = ("100", "2150", "")  # corporate card spend

# Subsidiaries (cost centers) present under each expense object in F0901.
COST_CENTERS = ["CC10", "CC20", "CC30"]

# Expensify policies: name -> (policyID, output currency, JDE business unit it routes to)
POLICIES = {
    "HQ": ("F1A2B3C4D5E6F7A8", "USD", "100"),
    "Field Sales": ("A9B8C7D6E5F4A3B2", "USD", "200"),
    "Engineering EU": ("C0FFEE00BADC0DE1", "EUR", "300"),
}

# Expensify categories: name -> GL code (object account); None = no GL code set.
CATEGORIES = {
    "Airfare": "6100",
    "Meals": "6110",
    "Lodging": "6120",
    "Mileage": "6130",
    "Office Supplies": "6200",
    "Software": "6300",
    "Telephone": "6400",
    "Training": "6500",
    "Entertainment": "6900",
    "Gifts": None,  # deliberately unmapped
}

# Tag levels on every policy: "Cost Center" values are JDE subsidiaries.
TAG_LEVELS = {
    "Cost Center": COST_CENTERS,
    "Project": ["PRJ-ALPHA", "PRJ-BETA", "PRJ-GAMMA"],
}

# Accounts that exist but cannot take postings: (BU, object, sub) -> PEC code.
# PEC "N" = non-posting (Celin/JDEQuery); "I" = inactive is this sandbox's documented choice.
RESTRICTED_ACCOUNTS = {
    ("900", "6110", ""): "I",
    ("300", "6900", ""): "N",
}

# Currencies the fakes know (ISO 4217 minor units); KWD and BHD stand for the three-decimal ones.
CURRENCY_EXPONENTS = {"USD": 2, "EUR": 2, "CAD": 2, "GBP": 2, "JPY": 0, "KWD": 3, "BHD": 3}

# Business units whose every F0901 account is inactive (posting edit code "I"): a closed
# region, so the whole unit reads as inactive, not just the one account listed above.
INACTIVE_BUSINESS_UNITS = {"900"}
