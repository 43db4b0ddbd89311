"""Spreadsheet exports that cannot run formulas (CSV/XLSX injection).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula (or a DDE command) by Excel, LibreOffice and Google Sheets. Every such text cell is
written with a leading apostrophe, the spreadsheets' own "this is text" mark (OWASP's advice
for CSV injection). django-import-export's ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT``
(on in settings) only strips a leading ``=``; these formats cover the rest and keep the
value readable. ``unneutralise`` undoes the mark on import, so an export edited and
imported back round-trips unchanged.
"""

from import_export.formats.base_formats import CSV, XLSX

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return TEXT_MARK + value
    return value


def unneutralise(value):
    if isinstance(value, str) and value.startswith(TEXT_MARK) and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def starts_like_formula(value):
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def neutralise_dataset(dataset):
    rows = [tuple(neutralise(cell) for cell in row) for row in dataset]
    headers, title = dataset.headers, dataset.title
    dataset.wipe()
    dataset.headers, dataset.title = headers, title
    for row in rows:
        dataset.append(row)
    return dataset


class SafeCSV(CSV):
    def export_data(self, dataset, **kwargs):
        return super().export_data(neutralise_dataset(dataset), **kwargs)


class SafeXLSX(XLSX):
    def export_data(self, dataset, **kwargs):
        return super().export_data(neutralise_dataset(dataset), **kwargs)
