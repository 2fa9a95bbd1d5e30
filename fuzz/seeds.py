#!/usr/bin/env python3
"""Seed corpora for the fuzz targets from the real files in ../shared/dicom (or $ANONTRACK_SHARED/dicom).

corpus/walker_patcher and corpus/verify_file: every DICOM file up to 64 kB, behind a 0 byte
(mode 0: a whole file). corpus/deflate: the data sets of the explicit VR little endian files and
the inflated data sets of the deflated ones, behind a 0 byte (mode 0: an inflated data set).
Names are content hashes; no file content is printed.
"""
import hashlib, os, struct, sys, zlib
from pathlib import Path

here = Path(__file__).resolve().parent
shared = Path(os.environ.get("ANONTRACK_SHARED", here.parent.parent / "shared")) / "dicom"
if not shared.is_dir():
    sys.exit(f"no shared DICOM folder at {shared}")
LIMIT = 64 * 1024


def meta_end(b):
    pos, ts = 132, b""
    while pos + 8 <= len(b) and b[pos:pos + 2] == b"\x02\x00":
        vr = b[pos + 4:pos + 6]
        if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR", b"OD", b"OF", b"OL", b"OV", b"SV", b"UV"):
            n, start = struct.unpack("<I", b[pos + 8:pos + 12])[0], pos + 12
        else:
            n, start = struct.unpack("<H", b[pos + 6:pos + 8])[0], pos + 8
        if b[pos + 2:pos + 4] == b"\x10\x00":
            ts = b[start:start + n].rstrip(b"\x00 ")
        pos = start + n
    return pos, ts


def put(target, data):
    d = here / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


n = 0
for p in sorted(shared.rglob("*")):
    if not p.is_file() or "hostile" in p.parts:
        continue
    b = p.read_bytes()
    if b[128:132] != b"DICM":
        continue
    try:
        end, ts = meta_end(b)
    except struct.error:
        continue
    if ts == b"1.2.840.10008.1.2.1.99":
        try:
            ds = zlib.decompress(b[end:], -15)
        except zlib.error:
            continue
        put("deflate", b"\x00" + ds[:LIMIT])
    elif ts == b"1.2.840.10008.1.2.1" and len(b) <= LIMIT:
        put("deflate", b"\x00" + b[end:])
    if len(b) <= LIMIT:
        put("walker_patcher", b"\x00" + b)
        put("verify_file", b"\x00" + b)
        n += 1
print(f"{n} files seeded into {here / 'corpus'}")
