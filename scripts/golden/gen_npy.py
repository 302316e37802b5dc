#!/usr/bin/python3
"""Writes the NumPy reference files that tests/test_npy.c checks deepc's .npy/.npz reader and
writer against, and checks the files deepc wrote.

Usage:
    /usr/bin/python3 scripts/golden/gen_npy.py [OUT_DIR]     (default tests/golden/io)
    /usr/bin/python3 scripts/golden/gen_npy.py --check DIR   (DIR: where test_npy DIR wrote)

Needs python3-numpy (Debian's NumPy 1.24). Generation is deterministic: no random numbers, and
the only bytes that would change between runs, the dates np.savez gives the zip members, are
set to 1980-01-01 in the archives' local headers and central directory.

Files written into OUT_DIR:
  <name>.npy        one array per file, written by np.save (or np.lib.format.write_array for
                    the format versions 2.0 and 3.0); every dtype deepc reads, little- and
                    big-endian, 0-d, 1-d, 3-d, 8-d, empty
  fortran.npy       a Fortran-order array (deepc must refuse it)
  i8_big.npy        an int64 array whose element 1 is 2^24 + 1 (not exact in float32: refused)
  savez.npz         np.savez(a=..., b=..., c=..., d=...)          (stored members)
  savez_compressed.npz  the same arrays with np.savez_compressed   (deflated members)
  expected.txt      the values every accepted array must load as, one array a line:
                        NAME DTYPE NDIM D0 .. D(NDIM-1) V0 V1 ...
                    NAME is the file, or "archive.npz/member" for a member of an archive;
                    DTYPE is deepc's name of the file's element type ("F32", "I16", "BOOL");
                    the values are the array converted to float32 (printed with %.9g), so
                    the C test reads exactly the numbers NumPy's astype(np.float32) gives.

--check DIR loads what test_npy wrote into DIR with np.load and compares it with these
references: for every NAME.npy of expected.txt deepc saved DIR/NAME with the reference's dtype
(little-endian), so dtype, shape (0-d arrays come back as shape (1,)), values and, for the
files np.save itself wrote little-endian, the bytes np.save writes for the same array must all
match. DIR/stored.npz and DIR/deflated.npz hold the archives' arrays saved by dc_npz_save as
float32, stored and deflated; DIR/permuted.npy is f4_3d.npy's array transposed to (4, 2, 3)
and saved from a strided view.
"""

import io
import os
import sys
import zipfile

import numpy as np

# deepc's dtype names by NumPy dtype kind and size
DC_NAMES = {
    ("f", 2): "F16", ("f", 4): "F32", ("f", 8): "F64",
    ("i", 1): "I8", ("i", 2): "I16", ("i", 4): "I32", ("i", 8): "I64",
    ("u", 1): "U8", ("u", 2): "U16", ("u", 4): "U32", ("u", 8): "U64",
    ("b", 1): "BOOL",
}


def arrays():
    """(file name, array, format version) of every reference .npy file deepc must accept."""
    f4 = np.array([[0.1, -2.5, 3.25], [1e-3, -1e5, 7.0]], dtype="<f4")
    out = [
        ("f2.npy", np.array([0.5, -1.25, 3.0, 1024.0, -0.0009765625], dtype="<f2"), None),
        ("f4_2x3.npy", f4, None),
        ("f4_5.npy", np.array([1.0, -0.0, 1.5e-7, 3.4e38, -2.0], dtype="<f4"), None),
        ("f4_3d.npy", (np.arange(24, dtype="<f4") * 0.5 - 3.0).reshape(2, 3, 4), None),
        ("f4_8d.npy", np.array([0.25, -8.0], dtype="<f4").reshape(1, 1, 1, 1, 1, 1, 1, 2), None),
        ("f8.npy", np.array([0.5, -2.5, 2.0**100, -3.75], dtype="<f8"), None),
        ("i1.npy", np.array([[-128, 127], [0, -5]], dtype="|i1"), None),
        ("i2.npy", np.array([-32768, 32767, 12], dtype="<i2"), None),
        ("i4.npy", np.array([[-16777216, 16777216], [-7, 100000]], dtype="<i4"), None),
        ("i8.npy", np.array([-(2**24), 2**24, -3], dtype="<i8"), None),
        ("u1.npy", np.array([0, 255, 17, 128], dtype="|u1"), None),
        ("u2.npy", np.array([65535, 1], dtype="<u2"), None),
        ("u4.npy", np.array([16777216, 0, 4000000], dtype="<u4"), None),
        ("u8.npy", np.array([16777216, 9], dtype="<u8"), None),
        ("b1.npy", np.array([[True, False, True], [False, False, True]]), None),
        ("scalar.npy", np.array(3.5, dtype="<f4"), None),
        ("scalar_i8.npy", np.array(-42, dtype="<i8"), None),
        ("empty.npy", np.zeros((0,), dtype="<f4"), None),
        ("empty_3x0.npy", np.zeros((3, 0), dtype="<i2"), None),
        ("v2.npy", np.array([1.0, 2.0, -3.0], dtype="<f4"), (2, 0)),
        ("v3.npy", np.array([[4, 5]], dtype="<u2"), (3, 0)),
    ]
    for code, vals in [("f2", [0.5, -1.25, 65504.0]), ("f4", [0.1, -2.5, 3.25]), ("f8", [1e-300, -2.5, 1e30]),
                       ("i2", [-32768, 258, 7]), ("i4", [-16777216, 16777216, 65536]),
                       ("i8", [-(2**24), 2**24, -1]), ("u2", [65535, 258, 0]), ("u4", [16777216, 1, 65536]),
                       ("u8", [16777216, 1, 256])]:
        out.append((code + "_be.npy", np.array(vals, dtype=">" + code), None))
    return out


def archive_arrays():
    return {
        "a": np.array([[1.5, -2.0, 0.0], [4.0, 5.25, -6.0]], dtype="<f4"),
        "b": np.array([-3, 0, 300], dtype="<i2"),
        "c": np.array(2.5, dtype="<f8"),
        "mask": np.array([True, False, True, True]),
    }


def dc_name(dt):
    return DC_NAMES[(dt.kind, dt.itemsize)]


def line(name, a):
    vals = np.asarray(a, dtype=np.float32).ravel()
    return " ".join([name, dc_name(a.dtype), str(a.ndim)] + [str(d) for d in a.shape] +
                    ["%.9g" % v for v in vals])


def save_npz(path, arrs, compress):
    """np.savez / np.savez_compressed, with the members' dates fixed so reruns give equal bytes."""
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrs)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    # rewrite only the date fields: every other byte is np.savez's own
    data = bytearray(buf.getvalue())
    for info in src.infolist():
        for off in (info.header_offset + 10,):
            data[off:off + 4] = b"\x00\x00\x21\x00"  # 1980-01-01 00:00:00 in the local header
    cd = data.rfind(b"PK\x05\x06")
    cd_off = int.from_bytes(data[cd + 16:cd + 20], "little")
    p = cd_off
    while data[p:p + 4] == b"PK\x01\x02":
        data[p + 12:p + 16] = b"\x00\x00\x21\x00"  # and in the central directory
        n, m, k = (int.from_bytes(data[p + o:p + o + 2], "little") for o in (28, 30, 32))
        p += 46 + n + m + k
    with open(path, "wb") as f:
        f.write(bytes(data))


def generate(out):
    os.makedirs(out, exist_ok=True)
    lines = ["# written by scripts/golden/gen_npy.py with NumPy %s" % np.__version__]
    for name, a, version in arrays():
        path = os.path.join(out, name)
        if version is None:
            np.save(path, a)
        else:
            with open(path, "wb") as f:
                np.lib.format.write_array(f, a, version=version)
        lines.append(line(name, a))
    np.save(os.path.join(out, "fortran.npy"), np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
    np.save(os.path.join(out, "i8_big.npy"), np.array([1, 2**24 + 1, 3], dtype="<i8"))
    arrs = archive_arrays()
    for fname, compress in [("savez.npz", False), ("savez_compressed.npz", True)]:
        save_npz(os.path.join(out, fname), arrs, compress)
        for k, a in arrs.items():
            lines.append(line(fname + "/" + k, a))
    with open(os.path.join(out, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d arrays into %s" % (len(lines) - 1, out))


def check(d, ref_dir):
    fails = []
    checked = 0

    def expect(cond, what):
        nonlocal checked
        checked += 1
        if not cond:
            fails.append(what)

    for name, ref, version in arrays():
        path = os.path.join(d, name)
        if not os.path.exists(path):
            fails.append("%s: missing" % path)
            continue
        got = np.load(path)
        want_dtype = ref.dtype.newbyteorder("<") if ref.dtype.itemsize > 1 else ref.dtype
        want_shape = ref.shape if ref.ndim else (1,)
        # deepc holds float32: the values it saves are the reference's rounded to float32
        want = ref.astype(np.float32).astype(want_dtype).reshape(want_shape)
        expect(got.dtype == want_dtype, "%s: dtype %s, expected %s" % (name, got.dtype.str, want_dtype.str))
        expect(got.shape == want_shape, "%s: shape %s, expected %s" % (name, got.shape, want_shape))
        expect(np.array_equal(got, want), "%s: values differ" % name)
        # deepc's bytes must be those np.save writes for the same array
        buf = io.BytesIO()
        np.save(buf, want)
        with open(path, "rb") as f:
            expect(f.read() == buf.getvalue(), "%s: bytes differ from np.save's" % name)
    ref = np.load(os.path.join(ref_dir, "f4_3d.npy"))
    got = np.load(os.path.join(d, "permuted.npy"))
    expect(got.dtype == np.float32 and np.array_equal(got, ref.transpose(2, 0, 1)), "permuted.npy: values differ")
    arrs = archive_arrays()
    for fname, method in [("stored.npz", zipfile.ZIP_STORED), ("deflated.npz", zipfile.ZIP_DEFLATED)]:
        path = os.path.join(d, fname)
        with zipfile.ZipFile(path) as z:
            expect(z.testzip() is None, "%s: a member's CRC-32 is wrong" % fname)
            expect(all(i.compress_type == method for i in z.infolist()), "%s: compression method" % fname)
        with np.load(path) as npz:
            expect(sorted(npz.files) == sorted(arrs), "%s: names %s" % (fname, sorted(npz.files)))
            for k, a in arrs.items():
                if k not in npz.files:
                    continue
                got = npz[k]
                want = a.astype(np.float32).reshape(a.shape if a.ndim else (1,))
                expect(got.dtype == np.float32 and got.shape == want.shape and np.array_equal(got, want),
                       "%s/%s: %s %s, expected float32 %s" % (fname, k, got.dtype, got.shape, want.shape))
    for f in fails:
        print("FAIL", f)
    print("%d passed, %d failed" % (checked - len(fails), len(fails)))
    return 1 if fails else 0


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ref_dir = os.path.join(root, "tests", "golden", "io")
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2], ref_dir))
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    generate(sys.argv[1] if len(sys.argv) == 2 else ref_dir)


if __name__ == "__main__":
    main()
