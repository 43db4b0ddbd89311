"""JD Edwards fake: column definitions of the purchasing and accounts payable tables.

Same shape as ``jde_data.TABLES`` (which merges these): ``{table: {prefix, title, key, columns:
{alias: (kind, description)}}}``. Columns from shared/reference/jde.md (F4301/F4311 key and
useful columns; F0411Z1 and its F0911Z1 G/L lines) and the JDE data dictionary names used by
public client code (LongJohnBlackbeard/JDEQuery models). F4301 and F4311 have no UPMT: their
change time is TDAY [reference, lib]. Line numbers (LNID) and quantities are served as display
decimals (JDE stores LNID with 3 implied decimals: line 1 is 1.000).

F0111 (Who's Who), F01151 (Electronic Address) and F0115 (Who's Who Phone Numbers: PHTP phone
type, AR1 prefix or area code, PH1 number) hold a supplier's contact name, email and phone, keyed
by AN8 and IDLN (0 = the address book record itself), as in JDE. Only the columns the sandbox
needs are modelled.
"""

EDI_KEYS = {
    "EDUS": ("str", "EDI - User ID"),
    "EDBT": ("str", "EDI - Batch Number"),
    "EDTN": ("str", "EDI - Transaction Number"),
    "EDLN": ("num", "EDI - Line Number"),
    "EDSP": ("str", "EDI - Successfully Processed"),
    "EDTC": ("str", "EDI - Transaction Action"),
    "EDTR": ("str", "EDI - Transaction Type"),
}
UPDATED = {"UPMJ": ("date", "Date Updated"), "UPMT": ("time", "Time Last Updated")}
PO_UPDATED = {"UPMJ": ("date", "Date Updated"), "TDAY": ("time", "Time of Day")}
PO_KEYS = {
    "KCOO": ("str", "Order Company"),
    "DOCO": ("num", "Document (Order No Invoice etc.)"),
    "DCTO": ("str", "Order Type"),
    "SFXO": ("str", "Order Suffix"),
}
# The voucher's own columns, shared by the batch file (F0411Z1) and the ledger (F0411).
VOUCHER_COLUMNS = {
    "KCO": ("str", "Document Company"),
    "DCT": ("str", "Document Type"),
    "DOC": ("num", "Document (Voucher, Invoice, etc.)"),
    "SFX": ("str", "Document Pay Item"),
    "AN8": ("num", "Address Number"),
    "PYE": ("num", "Payee Address Number"),
    "DIVJ": ("date", "Invoice Date"),
    "DDJ": ("date", "Due Date"),
    "DGJ": ("date", "G/L Date"),
    "CO": ("str", "Company"),
    "AG": ("amount", "Gross Amount"),
    "AAP": ("amount", "Open Amount"),
    "CRCD": ("str", "Currency Code - From"),
    "VINV": ("str", "Supplier Invoice Number"),
    "RMK": ("str", "Remark"),
    "PST": ("str", "Pay Status Code"),
}

AP_TABLES = {
    "F4301": {
        "prefix": "PH", "title": "Purchase Order Header", "key": ("KCOO", "DOCO", "DCTO", "SFXO"),
        "columns": {**PO_KEYS,
                    "AN8": ("num", "Address Number"),
                    "MCU": ("mcu", "Business Unit"),
                    "TRDJ": ("date", "Order Date"),
                    "DRQJ": ("date", "Requested Date"),
                    "CRCD": ("str", "Currency Code"),
                    "OTOT": ("amount", "Order Gross Amount"),
                    "DESC": ("str", "Description"),
                    "ORBY": ("str", "Ordered By"),
                    **PO_UPDATED},
    },
    "F4311": {
        "prefix": "PD", "title": "Purchase Order Detail File", "key": ("KCOO", "DOCO", "DCTO", "SFXO", "LNID"),
        "columns": {**PO_KEYS,
                    "LNID": ("amount", "Line Number"),
                    "AN8": ("num", "Address Number"),
                    "LITM": ("str", "2nd Item Number"),
                    "DSC1": ("str", "Description"),
                    "UOM": ("str", "Unit of Measure as Input"),
                    "UORG": ("amount", "Units - Order/Transaction Quantity"),
                    "UREC": ("amount", "Units - Received"),
                    "UOPN": ("amount", "Units - Open Quantity"),
                    "PRRC": ("amount", "Unit Cost - Purchasing"),
                    "AEXP": ("amount", "Amount - Extended Price"),
                    "AREC": ("amount", "Amount - Received"),
                    "AOPN": ("amount", "Amount - Open"),
                    "LTTR": ("str", "Status Code - Last"),
                    "NXTR": ("str", "Status Code - Next"),
                    "ANI": ("str", "Account Number - Input (Mode Unknown)"),
                    "AID": ("str", "Account ID"),
                    "OMCU": ("mcu", "Business Unit - Object Account"),
                    "OBJ": ("str", "Object Account"),
                    "SUB": ("str", "Subsidiary"),
                    "TRDJ": ("date", "Order Date"),
                    "PDDJ": ("date", "Scheduled Pick Date"),
                    "CRCD": ("str", "Currency Code"),
                    **PO_UPDATED},
    },
    "F0111": {
        "prefix": "WW", "title": "Address Book - Who's Who", "key": ("AN8", "IDLN"),
        "columns": {"AN8": ("num", "Address Number"), "IDLN": ("num", "Line Number ID"),
                    "MLNM": ("str", "Name - Mailing"), **UPDATED},
    },
    "F01151": {
        "prefix": "EA", "title": "Electronic Address", "key": ("AN8", "IDLN", "RCK7"),
        "columns": {"AN8": ("num", "Address Number"), "IDLN": ("num", "Line Number ID"),
                    "RCK7": ("num", "Line Number"), "ETP": ("str", "Electronic Address Type"),
                    "EMAL": ("str", "Electronic Address"), **UPDATED},
    },
    "F0115": {
        "prefix": "WP", "title": "Address Book - Who's Who Phone Numbers", "key": ("AN8", "IDLN", "RCK7"),
        "columns": {"AN8": ("num", "Address Number"), "IDLN": ("num", "Line Number ID"),
                    "RCK7": ("num", "Line Number"), "PHTP": ("str", "Phone Number Type"),
                    "AR1": ("str", "Prefix"), "PH1": ("str", "Phone Number"), **UPDATED},
    },
    "F0411Z1": {
        "prefix": "VL", "title": "Voucher Transactions - Batch Upload", "key": ("EDUS", "EDBT", "EDTN", "EDLN"),
        "columns": {**EDI_KEYS, **VOUCHER_COLUMNS, **UPDATED},
    },
    # What the voucher batch processor makes of F0411Z1 rows: one row per pay item.
    "F0411": {
        "prefix": "RP", "title": "Accounts Payable Ledger", "key": ("KCO", "DCT", "DOC", "SFX"),
        "columns": {**VOUCHER_COLUMNS, "ICU": ("num", "Batch Number"), "ICUT": ("str", "Batch Type"), **UPDATED},
    },
}
