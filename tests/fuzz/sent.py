"""What each target received: every write the sandbox recorded, checked against the target's
documented limits. A document that does not balance to the cent, a field past its documented
length or a control character in any text is a breach.

Limits, with their sources:
* JD Edwards (shared/reference/jde.md, F0911Z1/F0411Z1): VNEDTN A22 (BatchReference /
  VoucherReference), VNEXA/VNEXR A30 (Explanation, Remark), VNANI A29 (Account ``BU.OBJ.SUB``),
  VNMCU A12, VNOBJ A6, VNSUB A8; a journal's lines add up to zero; a voucher's G/L lines equal its
  pay items.
* IFS Cloud: the voucher action's ReferenceNumber at most 50 characters, texts at most 200 (the
  sandbox's documented contract, sandbox/ifs_vouchers.py; the reference gives none); debits equal
  credits.
* Acumatica: a JournalTransaction's debits equal its credits; a Bill's Amount, when sent, equals
  its lines.
* every target: no control character (Unicode Cc) in any text of any write.
"""

import json
import unicodedata
from decimal import Decimal
from urllib.parse import parse_qs

JDE_TEXT = {"BatchReference": 22, "VoucherReference": 22, "Explanation": 30, "Remark": 30}
JDE_ACCOUNT = 29
JDE_ACCOUNT_PARTS = (12, 6, 8)
IFS_TEXT = {"ReferenceNumber": 50, "VoucherText": 200, "Text": 200}
READS = ("GET", "HEAD")


def writes(box, system):
    """The JSON bodies of every write ``system`` received (form-encoded Expensify jobs decoded)."""
    out = []
    for request in box.requests:
        if request.system != system or request.method in READS or not request.body:
            continue
        if request.endpoint in ("tokenrequest", "tokenrequest/validate", "tokenrequest/logout", "dataservice",
                                "dataservice/next", "token", "login", "logout"):
            continue
        out.append((request.endpoint, _decode(request.body)))
    return out


def _decode(body):
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        form = {k: v[0] for k, v in parse_qs(text).items()}
        decoded = {}
        for key, value in form.items():
            try:
                decoded[key] = json.loads(value)
            except ValueError:
                decoded[key] = value
        return decoded


def control_texts(value, path="$"):
    """(path, text) of every string under ``value`` holding a control character."""
    if isinstance(value, str):
        return [(path, value)] if any(unicodedata.category(c) == "Cc" for c in value) else []
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in control_texts(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in control_texts(v, f"{path}[{i}]")]
    return []


def breaches(box, system):
    """Every breach in what ``system`` received: a list of sentences (empty when all is well)."""
    found = []
    for endpoint, body in writes(box, system):
        found += [f"{system} {endpoint}: control character at {p}: {t[:40]!r}" for p, t in control_texts(body)]
        check = {"jde": _jde, "ifs": _ifs, "acumatica": _acumatica}.get(system)
        if check and isinstance(body, dict):
            found += [f"{system} {endpoint}: {problem}" for problem in check(endpoint, body)]
    return found


def _too_long(where, fields, limits):
    return [f"{where}{name} is {len(str(fields[name]))} characters (at most {limit})"
            for name, limit in limits.items() if name in fields and len(str(fields[name])) > limit]


def _jde(endpoint, body):
    if endpoint != "orchestrator" or "Lines" not in body:
        return []
    problems = _too_long("", body, JDE_TEXT)
    total = Decimal(0)
    for number, line in enumerate(body.get("Lines") or [], start=1):
        problems += _too_long(f"line {number} ", line, JDE_TEXT)
        account = str(line.get("Account", ""))
        if len(account) > JDE_ACCOUNT or any(len(p) > n for p, n in zip(account.split("."), JDE_ACCOUNT_PARTS, strict=False)):
            problems.append(f"line {number} account {account!r} does not fit VNANI/VNMCU/VNOBJ/VNSUB")
        total += Decimal(str(line["Amount"]))
    if "PayItems" in body:  # a voucher: G/L lines equal the pay items
        items = sum((Decimal(str(i["Amount"])) for i in body["PayItems"]), Decimal(0))
        if items != total:
            problems.append(f"voucher G/L lines {total} != pay items {items}")
    elif total != 0:
        problems.append(f"journal out of balance by {total}")
    return problems


def _ifs(endpoint, body):
    if "Rows" not in body:
        return []
    problems = _too_long("", body, IFS_TEXT)
    debit = credit = Decimal(0)
    for number, row in enumerate(body["Rows"], start=1):
        problems += _too_long(f"row {number} ", row, IFS_TEXT)
        debit += Decimal(str(row.get("CurrencyDebitAmount") or 0))
        credit += Decimal(str(row.get("CurrencyCreditAmount") or 0))
    if debit != credit:
        problems.append(f"voucher debits {debit} != credits {credit}")
    return problems


def _value(field):
    return field.get("value") if isinstance(field, dict) else field


def _acumatica(endpoint, body):
    details = body.get("Details") or []
    if endpoint == "put:JournalTransaction":
        debit = sum((Decimal(str(_value(d.get("DebitAmount")) or 0)) for d in details), Decimal(0))
        credit = sum((Decimal(str(_value(d.get("CreditAmount")) or 0)) for d in details), Decimal(0))
        return [] if debit == credit else [f"journal debits {debit} != credits {credit}"]
    if endpoint == "put:Bill" and "Amount" in body:
        lines = sum((Decimal(str(_value(d.get("Amount")) or 0)) for d in details), Decimal(0))
        amount = Decimal(str(_value(body["Amount"])))
        return [] if lines == amount else [f"bill amount {amount} != lines {lines}"]
    return []
