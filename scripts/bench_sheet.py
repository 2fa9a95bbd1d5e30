#!/usr/bin/env python3
"""Writes a minimal tracking workbook for `scripts/bench.sh`'s `sync` round (needs openpyxl).

Usage: bench_sheet.py OUT.xlsx ORIGINAL_ID STUDY_ID INITIALS

One sheet with the lab's header names and one participant whose "DICOMS Anonymized" cell holds
INITIALS (queued for anonymization), so `anontrack sync` anonymizes and verifies it.
"""

import sys

import openpyxl


def main():
    out, original_id, study_id, initials = sys.argv[1:5]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["ID", "Original ID", "Study", "Scan Date", "DICOMS Anonymized",
               "DICOM anonymization check", "Scan Notes"])
    oid = int(original_id) if original_id.isdigit() else original_id
    ws.append([study_id, oid, "BENCH", None, initials, None, None])
    wb.save(out)


if __name__ == "__main__":
    main()
