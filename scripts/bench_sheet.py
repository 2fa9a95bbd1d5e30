#!/usr/bin/env python3
"""Writes a minimal tracking workbook for `scripts/bench.sh`'s `sync` round (needs openpyxl).

Usage: bench_sheet.py OUT.xlsx ORIGINAL_ID STUDY_ID INITIALS [ROWS]

One sheet with the lab's header names and one participant whose "DICOMS Anonymized" cell holds
INITIALS (queued for anonymization), so `anontrack sync` anonymizes and verifies it. With ROWS > 1,
ROWS - 1 more participants follow with nothing queued (made-up IDs 90001...): a large workbook
for timing sheet read + plan + write-back.
"""

import sys

import openpyxl


def main():
    out, original_id, study_id, initials = sys.argv[1:5]
    rows = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["ID", "Original ID", "Study", "Scan Date", "DICOMS Anonymized",
               "DICOM anonymization check", "Scan Notes"])
    oid = int(original_id) if original_id.isdigit() else original_id
    ws.append([study_id, oid, "BENCH", None, initials, None, None])
    for i in range(1, rows):
        ws.append([f"S{i + 1:04d}", 90000 + i, "BENCH", None, None, None, None])
    wb.save(out)


if __name__ == "__main__":
    main()
