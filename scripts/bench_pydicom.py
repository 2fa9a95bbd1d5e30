#!/usr/bin/env python3
"""A plain pydicom loop applying the lab's recipe, as a benchmark peer for `scripts/bench.sh`.

Usage: bench_pydicom.py RAW_DIR OUT_DIR YYYYMMDD

Copies every DICOM file under RAW_DIR to the same relative path under OUT_DIR, setting the lab's
18 tags to `Anonymous` where present at the top level and AcquisitionDate to YYYYMMDD, the way a
lab member would script it: read, modify, save. Non-DICOM files are skipped. No checking.
"""

import os
import sys

import warnings

import pydicom

# `Anonymous` in DA/DS elements is invalid DICOM; the lab's recipe writes it anyway.
warnings.simplefilter("ignore")

LAB_TAGS = [
    0x00080012, 0x00080020, 0x00080021, 0x00080023, 0x00080090, 0x00081050,
    0x00100010, 0x00100020, 0x00100030, 0x00101020, 0x00101030, 0x00104000,
    0x00291009, 0x00291019, 0x00291109, 0x00291119, 0x00400244, 0x00400253,
]
ACQUISITION_DATE = 0x00080022


def set_raw(elem, value):
    """Sets a value even where pydicom's VR check refuses it (DS/IS cannot hold text)."""
    try:
        elem.value = value
    except ValueError:
        elem._value = value


def main():
    raw, out, date = sys.argv[1], sys.argv[2], sys.argv[3]
    done = 0
    for folder, _dirs, files in os.walk(raw):
        rel = os.path.relpath(folder, raw)
        os.makedirs(os.path.join(out, rel), exist_ok=True)
        for name in sorted(files):
            src = os.path.join(folder, name)
            try:
                ds = pydicom.dcmread(src)
            except Exception:  # not DICOM, or broken: a real script would log it
                continue
            for tag in LAB_TAGS:
                if tag in ds:
                    set_raw(ds[tag], "Anonymous")
            if ACQUISITION_DATE in ds:
                ds[ACQUISITION_DATE].value = date
            ds.save_as(os.path.join(out, rel, name))
            done += 1
    print(f"{done} files", file=sys.stderr)


if __name__ == "__main__":
    main()
