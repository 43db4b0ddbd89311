"""Deterministic JD Edwards purchasing data: purchase orders (F4301 headers, F4311 lines) and
supplier contacts (F0111 Who's Who, F01151 email, F0115 phone), built from the suppliers and
accounts of ``jde_data``. Random streams of their own (``jde-po-<seed>``, ``jde-phone-<seed>`` for
the phones, added later) keep the older tables' rows exactly as they were before these existed.

Order type ``OP`` and the status codes follow JDE's standard purchase order activity rules
(the reference does not list them: sandbox choices, UNCONFIRMED): 220 open (printed), 400
received, 980 cancelled (next status 999 = closed). A cancelled line keeps its quantity and
amounts but leaves the header total (OTOT = the extended amounts of lines not cancelled).
"""

import datetime as dt
import random
from decimal import Decimal

from . import catalog
from .jde_data import account_key, pad_mcu, to_julian

ORDER_TYPE = "OP"
OPEN, RECEIVED, CANCELLED, CLOSED = "220", "400", "980", "999"
NEXT_STATUS = {OPEN: "230", RECEIVED: CLOSED, CANCELLED: CLOSED}
ITEMS = {  # object account -> [(item number, description, unit cost range)]
    "6200": [("OFF-PAPER-A4", "Copy paper A4, box", (20, 60)), ("OFF-TONER-K", "Toner cartridge black", (60, 180))],
    "6300": [("SW-LIC-STD", "Software licence, standard seat", (90, 900)), ("SW-SUPPORT", "Annual support", (200, 1500))],
    "6400": [("TEL-HEADSET", "Headset USB", (40, 150)), ("TEL-SIM", "Mobile plan, month", (20, 80))],
    "6500": [("TRN-COURSE", "Training course seat", (300, 1200))],
    "6100": [("TRV-AIR", "Air travel block", (250, 900))],
    "6110": [("CAT-LUNCH", "Catered lunch per head", (12, 35))],
    "6120": [("HTL-NIGHT", "Hotel room night", (90, 260))],
    "6900": [("EVT-BOOTH", "Event booth package", (500, 3000))],
}
CONTACTS = ["Jordan Miles", "Riley Park", "Morgan Lee", "Quinn Ortega", "Sasha Novak", "Taylor Reed", "Harper Kim"]


def now_stamp(moment):
    """``(UPMJ, time HHMMSS)`` of a datetime."""
    return to_julian(moment.date()), moment.hour * 10000 + moment.minute * 100 + moment.second


def line_amounts(line):
    """Recompute a line's extended and open amounts from its quantity and unit cost."""
    line["AEXP"] = (line["UORG"] * line["PRRC"]).quantize(Decimal("0.01"))
    line["UOPN"] = line["UORG"] - line["UREC"]
    line["AOPN"] = (line["UOPN"] * line["PRRC"]).quantize(Decimal("0.01")) if line["LTTR"] != CANCELLED else Decimal(0)


def header_total(lines):
    return sum((ln["AEXP"] for ln in lines if ln["LTTR"] != CANCELLED), Decimal("0.00"))


def _moment(rng, start, anchor):
    """A datetime between ``start`` (a date) and the day before ``anchor``."""
    days = max(0, (anchor - start).days - 1)
    day = start + dt.timedelta(days=rng.randint(0, days))
    return dt.datetime.combine(day, dt.time(rng.randint(6, 19), rng.randint(0, 59), rng.randint(0, 59)))


def build_orders(rng, size, anchor, suppliers, accounts):
    by_key = {account_key(a["MCU"], a["OBJ"], a["SUB"]): a for a in accounts if a["PEC"] == ""}
    active = [s for s in suppliers if s["MCUP"].strip() not in catalog.INACTIVE_BUSINESS_UNITS]
    headers, details = [], []
    for index in range(6 + size // 2):
        supplier = active[index % len(active)]
        number = 400001 + index
        order_day = anchor - dt.timedelta(days=rng.randint(3, 120))
        bu = supplier["MCUP"].strip()
        obj = supplier["OBAP"] if supplier["OBAP"] in ITEMS else rng.choice(sorted(ITEMS))
        keys = {"KCOO": catalog.COMPANY, "DOCO": number, "DCTO": ORDER_TYPE, "SFXO": "000"}
        lines, latest = [], None
        for line_number in range(1, rng.randint(1, 4) + 1):
            item, description, (low, high) = rng.choice(ITEMS[obj])
            candidates = [by_key[k] for k in (account_key(bu, obj, s) for s in ["", *catalog.COST_CENTERS]) if k in by_key]
            account = rng.choice(candidates)
            roll = rng.random()
            status = CANCELLED if roll < 0.1 else RECEIVED if roll < 0.3 else OPEN
            quantity = Decimal(rng.randint(1, 40))
            changed = _moment(rng, order_day, anchor)
            latest = max(latest or changed, changed)
            upmj, tday = now_stamp(changed)
            line = {**keys, "LNID": Decimal(line_number).quantize(Decimal("0.001")), "AN8": supplier["AN8"],
                    "LITM": item, "DSC1": description, "UOM": "EA", "UORG": quantity,
                    "UREC": quantity if status == RECEIVED else Decimal(0),
                    "PRRC": Decimal(rng.randint(low * 100, high * 100)).scaleb(-2), "AREC": Decimal(0),
                    "LTTR": status, "NXTR": NEXT_STATUS[status], "ANI": account_key(bu, obj, account["SUB"]),
                    "AID": account["AID"], "OMCU": pad_mcu(bu), "OBJ": obj, "SUB": account["SUB"],
                    "TRDJ": to_julian(order_day), "PDDJ": to_julian(order_day + dt.timedelta(days=rng.randint(7, 30))),
                    "CRCD": supplier["CRRP"], "UPMJ": upmj, "TDAY": tday}
            line_amounts(line)
            if status == RECEIVED:
                line["AREC"] = line["AEXP"]
            lines.append(line)
        upmj, tday = now_stamp(latest)
        headers.append({**keys, "AN8": supplier["AN8"], "MCU": pad_mcu(bu), "TRDJ": to_julian(order_day),
                        "DRQJ": to_julian(order_day + dt.timedelta(days=rng.randint(7, 30))), "CRCD": supplier["CRRP"],
                        "OTOT": header_total(lines), "DESC": f"PO {number} {supplier['AN8']}", "ORBY": "BUYER1",
                        "UPMJ": upmj, "TDAY": tday})
        details.extend(lines)
    return headers, details


def build_contacts(rng, address_book):
    """A Who's Who line 0 (the record itself) and 1 (the AP contact) plus an email per supplier."""
    whos_who, emails = [], []
    for row in address_book:
        if row["AT1"] != "V":
            continue
        contact = rng.choice(CONTACTS)
        domain = "".join(ch for ch in row["ALPH"].lower() if ch.isalnum())[:20] or "supplier"
        stamp = {"UPMJ": row["UPMJ"], "UPMT": row["UPMT"]}
        whos_who.append({"AN8": row["AN8"], "IDLN": 0, "MLNM": row["ALPH"], **stamp})
        whos_who.append({"AN8": row["AN8"], "IDLN": 1, "MLNM": contact, **stamp})
        emails.append({"AN8": row["AN8"], "IDLN": 1, "RCK7": 1, "ETP": "E",
                       "EMAL": f"{contact.split()[0].lower()}@{domain}.example", **stamp})
    return whos_who, emails


def build_phones(rng, address_book):
    """The AP contact's business phone (Who's Who line 1, phone type blank: UNCONFIRMED, the business
    number's type in UDC 01/PH is site-specific) for most suppliers, area code apart as JDE keeps it."""
    phones = []
    for row in address_book:
        if row["AT1"] == "V" and rng.random() < 0.7:
            phones.append({"AN8": row["AN8"], "IDLN": 1, "RCK7": 1, "PHTP": "", "AR1": str(rng.randint(201, 989)),
                           "PH1": f"555-{rng.randint(1000, 9999)}", "UPMJ": row["UPMJ"], "UPMT": row["UPMT"]})
    return phones


def generate(seed, size, anchor, tables):
    """The purchasing and AP tables for a world whose older tables are ``tables``."""
    rng = random.Random(f"jde-po-{seed}")
    headers, details = build_orders(rng, max(0, int(size)), anchor, tables["F0401"], tables["F0901"])
    whos_who, emails = build_contacts(rng, tables["F0101"])
    phones = build_phones(random.Random(f"jde-phone-{seed}"), tables["F0101"])
    return {"F4301": headers, "F4311": details, "F0111": whos_who, "F01151": emails, "F0115": phones, "F0411Z1": [],
            "F0411": []}
