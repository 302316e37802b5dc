#!/usr/bin/python3
"""safetensors reference files for tests/test_safetensors.c, and a checker of deepc's files.

    /usr/bin/python3 scripts/golden/gen_safetensors.py [OUT_DIR]    (default tests/golden/io)
    /usr/bin/python3 scripts/golden/gen_safetensors.py --check DIR

Needs only the standard library and NumPy (python3-numpy). The writer and the reader here are
built from the format's public description, not from the safetensors package:
an unsigned little-endian u64 N, N bytes of UTF-8 JSON mapping tensor names to
{"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data that follows the
header) plus an optional "__metadata__" object of strings, then the data, little-endian, C order.

Generation writes:
  types.safetensors      every dtype deepc reads (F32, F64, F16, BF16, I8..I64, U8..U64, BOOL),
                         a 0-d tensor and a zero-size one, with F16 subnormals, infinities, -0,
                         NaN; written in a foreign style: keys sorted, ", "/": " separators,
                         ASCII-only escapes (\\u00fc), data in another order than the header and
                         no padding, so deepc's reader meets what it does not write itself.
  types_f32.safetensors  the same tensors as float32 (the values deepc must read).
  deepc_*.safetensors    files exactly as deepc's writer must write them for the content in
                         CONTENT below (F32, F16, BF16, a strided source, a scalar, no tensors):
                         compact json.dumps(separators=(",", ":"), ensure_ascii=False),
                         "__metadata__" first, tensors in order, padded with spaces to 8 bytes.
                         F16 is NumPy's astype(float16), BF16 round-to-nearest-even of the
                         float32 bits (NaN stays a quiet NaN): both round halfway cases to even.
Generation is deterministic: running it again gives byte-identical files.

--check DIR reads every *.safetensors in DIR (tests/test_safetensors DIR writes deepc's files
there) with a strict reader: header size, UTF-8 JSON object, known dtypes, integer shapes and
offsets, data covered without holes or overlaps, padding to 8 with spaces; the deepc_* files
must also equal, byte for byte, what this script writes for the same content, and their values
must be the source values converted to the file's dtype; roundtrip_f16/_bf16 must equal what
this script writes for the values of roundtrip_f32 converted. Exits 1 on any failure.
"""

import json
import os
import struct
import sys

import numpy as np

MAX_HEADER = 100_000_000

NP = {
    "F32": "<f4", "F64": "<f8", "F16": "<f2",
    "I8": "<i1", "I16": "<i2", "I32": "<i4", "I64": "<i8",
    "U8": "<u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "|b1",
}
SIZE = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I8": 1, "I16": 2, "I32": 4, "I64": 8,
        "U8": 1, "U16": 2, "U32": 4, "U64": 8, "BOOL": 1}


# ------------------------------------------------------------------------------------------
# conversions
# ------------------------------------------------------------------------------------------

def f32(values):
    return np.asarray(values, dtype=np.float32)


def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even; NaN stays NaN (quiet bit set)."""
    u = np.asarray(x, dtype=np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r


def bf16_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def encode(dtype, x):
    """float32 values -> the bytes of dtype (F32, F16 or BF16)."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if dtype == "F32":
        return x.astype("<f4").tobytes()
    if dtype == "F16":
        with np.errstate(over="ignore"):  # beyond 65504 rounds to Inf, as intended
            h = x.astype("<f2")
        for v, b in zip(x.reshape(-1).tolist(), h.reshape(-1).tolist()):  # cross-check with struct's IEEE half
            try:
                ok = struct.pack("<e", v) == struct.pack("<e", b)
            except OverflowError:
                ok = b in (float("inf"), float("-inf"))
            if not ok and v == v:
                raise AssertionError("NumPy and struct round %r to float16 differently" % v)
        return h.tobytes()
    if dtype == "BF16":
        return bf16_bits(x).astype("<u2").tobytes()
    raise ValueError(dtype)


def decode(dtype, raw, shape):
    if dtype == "BF16":
        v = bf16_to_f32(np.frombuffer(raw, dtype="<u2"))
    else:
        v = np.frombuffer(raw, dtype=NP[dtype])
    return v.reshape(shape)


# ------------------------------------------------------------------------------------------
# writer and reader
# ------------------------------------------------------------------------------------------

def pack(tensors, meta=None, style="deepc"):
    """tensors: list of (name, dtype, shape, raw bytes). deepc style: as deepc writes.
    foreign style: sorted keys, default separators, ASCII escapes, data in reverse order,
    no padding."""
    order = list(tensors) if style == "deepc" else list(reversed(tensors))
    offsets, at = {}, 0
    for name, dtype, shape, raw in order:
        offsets[name] = (at, at + len(raw))
        at += len(raw)
    header = {}
    if meta:
        header["__metadata__"] = dict(meta)
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets[name])}
    if style == "deepc":
        h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        h += b" " * (-len(h) % 8)
    else:
        h = json.dumps(header, sort_keys=True, ensure_ascii=True).encode("ascii")
    return struct.pack("<Q", len(h)) + h + b"".join(raw for _, _, _, raw in order)


class Bad(Exception):
    pass


def _reject_float(s):
    raise Bad("number %s in the header is not an integer" % s)


def _no_dup(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Bad("duplicate keys %r" % sorted(k for k in set(keys) if keys.count(k) > 1))
    return dict(pairs)


def unpack(blob, strict_writer=False):
    """Returns (metadata dict, [(name, dtype, shape, raw)] in data order, header bytes).
    Raises Bad for anything the format forbids; strict_writer adds what writers must do
    (data aligned to 8, padded with spaces)."""
    if len(blob) < 8:
        raise Bad("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER or n > len(blob) - 8:
        raise Bad("header size %d too large for %d bytes" % (n, len(blob)))
    hb = blob[8:8 + n]
    if not hb.startswith(b"{"):
        raise Bad("header does not start with '{'")
    text = hb.decode("utf-8")  # UnicodeDecodeError is a failure too
    if strict_writer:
        if (8 + n) % 8:
            raise Bad("data starts at %d, not a multiple of 8" % (8 + n))
        body = text.rstrip(" ")
        if body != text.rstrip() or not body.endswith("}"):
            raise Bad("header padding is not spaces")
    header = json.loads(text, object_pairs_hook=_no_dup, parse_float=_reject_float,
                        parse_constant=_reject_float)
    if not isinstance(header, dict):
        raise Bad("header is not an object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise Bad("__metadata__ is not an object of strings")
    data = blob[8 + n:]
    entries = []
    for name, e in header.items():
        if not isinstance(e, dict) or e.get("dtype") not in SIZE:
            raise Bad("tensor %r: bad entry or dtype" % name)
        shape, off = e.get("shape"), e.get("data_offsets")
        ints = lambda v: isinstance(v, list) and all(type(i) is int and i >= 0 for i in v)
        if not ints(shape) or not ints(off) or len(off) != 2 or off[0] > off[1] or off[1] > len(data):
            raise Bad("tensor %r: bad shape %r or data_offsets %r" % (name, shape, off))
        if off[1] - off[0] != int(np.prod(shape, dtype=object)) * SIZE[e["dtype"]]:
            raise Bad("tensor %r: %d bytes for %s %r" % (name, off[1] - off[0], e["dtype"], shape))
        entries.append((tuple(off), name, e["dtype"], tuple(shape)))
    entries.sort()
    at = 0
    for (b, e), name, _, _ in entries:
        if b != at:
            raise Bad("tensor %r at [%d, %d]: hole or overlap at %d" % (name, b, e, at))
        at = e
    if at != len(data):
        raise Bad("data holds %d bytes, tensors cover %d" % (len(data), at))
    return meta, [(name, dt, shape, data[b:e]) for (b, e), name, dt, shape in entries], hb


# ------------------------------------------------------------------------------------------
# content
# ------------------------------------------------------------------------------------------

def types_content():
    """[(name, dtype, shape, raw bytes, float32 values)] of types.safetensors."""
    def t(name, dtype, shape, values, raw=None):
        arr = np.asarray(values, dtype=NP.get(dtype, "<u2")).reshape(shape)
        raw = arr.tobytes() if raw is None else raw
        return (name, dtype, shape, raw)

    f16_bits = np.array([0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0x7C00, 0xFC00,
                         0x8000, 0x3555, 0x0200, 0x7E00], dtype="<u2")
    bf16 = np.array([0x3F80, 0xC040, 0x0001, 0x7F7F, 0x7F80, 0x3EAA, 0x8000, 0x4049], dtype="<u2")
    out = [
        t("f32", "F32", (2, 3), [0.0, -1.5, 3.25, 1e-40, np.inf, -np.inf]),
        ("f16", "F16", (12,), f16_bits.tobytes()),
        ("bf16", "BF16", (2, 4), bf16.tobytes()),
        t("f64", "F64", (4,), [0.1, -2.5, 1e-50, 16777217.0]),
        t("i64", "I64", (2, 2), [-16777216, 16777216, 0, 42]),
        t("i32", "I32", (3,), [-7, 2147483520, 5]),
        t("i16", "I16", (2,), [-32768, 32767]),
        t("i8", "I8", (3,), [-128, 127, 0]),
        t("u8", "U8", (4,), [0, 1, 128, 255]),
        t("u16", "U16", (2,), [65535, 0]),
        t("u32", "U32", (2,), [4294967040, 7]),
        t("u64", "U64", (2,), [1 << 40, 3]),
        t("bool", "BOOL", (4,), [False, True, True, False]),
        t("scalar", "F64", (), 7.5),
        t("empty", "F32", (0, 3), []),
        t("nested.name/ü", "U8", (1,), [9]),
    ]
    return out


def as_f32(dtype, raw, shape):
    if dtype == "F16":
        v = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    else:
        v = decode(dtype, raw, shape).astype(np.float32)
    return v.reshape(shape)


TYPES_META = [("source", "gen_safetensors.py"), ("note", "grüße \"q\" \\ \n\t\x01")]

# deepc_*: the content deepc's writer is given. Metadata values test the escapes.
META = [
    ("format", "pt"),
    ("note", "ü € 😀 \"quoted\" back\\slash\nnew\ttab\x01\x1f\x7f\b\f\r end"),
    ("ключ", "значение"),
]


def rounding_values():
    two = lambda e: float(2.0 ** e)
    return f32([
        1 + two(-11), 1 + 3 * two(-11), 1 + two(-11) + two(-20),  # F16 halfway: even, up; above: up
        two(-25), 3 * two(-25), two(-25) + two(-35),               # F16 subnormal halfway, above
        65519.0, 65520.0, -65520.0, 1e-8,                           # F16 max, tie to Inf, underflow
        1 + two(-8), 1 + 3 * two(-8), 1 + two(-8) + two(-20),      # BF16 halfway: even, up; above
        3.4028234663852886e38, np.inf, -0.0, 0.1, 6.1e-5, float("nan"), -1.0e-45,
    ])


def deepc_sources():
    """name -> (dtype, [(name, float32 array)], metadata)."""
    conv = (np.arange(8, dtype=np.float32) * np.float32(0.37) - np.float32(1.25)).reshape(2, 1, 2, 2)
    base = [
        ("conv.weight", conv),
        ("rounding", rounding_values()),
        ('layer.ü"q\\', f32([1.5, -2.0, 1e-3])),
        ("empty", np.zeros((2, 0), dtype=np.float32)),
    ]
    x = np.arange(12, dtype=np.float32).reshape(3, 4) * np.float32(0.5)
    strided = [("xT", np.ascontiguousarray(x.T)), ("cols", np.ascontiguousarray(x[:, 1:3]))]
    return {
        "deepc_f32": ("F32", base, META),
        "deepc_f16": ("F16", base, META),
        "deepc_bf16": ("BF16", base, META),
        "deepc_strided": ("BF16", strided, [("layout", "views")]),
        "deepc_scalar": ("F32", [("s", np.array(2.75, dtype=np.float32))], []),
        "deepc_empty": ("F32", [], []),
    }


def deepc_bytes(dtype, tensors, meta):
    return pack([(n, dtype, a.shape, encode(dtype, a)) for n, a in tensors], meta, "deepc")


# ------------------------------------------------------------------------------------------
# modes
# ------------------------------------------------------------------------------------------

def write(path, blob):
    with open(path, "wb") as f:
        f.write(blob)


def generate(out):
    os.makedirs(out, exist_ok=True)
    types = types_content()
    write(os.path.join(out, "types.safetensors"), pack(types, TYPES_META, "foreign"))
    as32 = [(n, "F32", s, as_f32(d, r, s).astype("<f4").tobytes()) for n, d, s, r in types]
    write(os.path.join(out, "types_f32.safetensors"), pack(as32, None, "deepc"))
    for name, (dtype, tensors, meta) in deepc_sources().items():
        write(os.path.join(out, name + ".safetensors"), deepc_bytes(dtype, tensors, meta))
    # self-check: the reader takes back what the writer wrote
    for f in sorted(os.listdir(out)):
        if f.endswith(".safetensors"):
            with open(os.path.join(out, f), "rb") as fh:
                unpack(fh.read(), strict_writer=f.startswith("deepc_"))
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".safetensors"))
    print("wrote %s (%d bytes of .safetensors)" % (out, total))


def same_values(got, want):
    got, want = np.asarray(got, dtype=np.float32), np.asarray(want, dtype=np.float32)
    return got.shape == want.shape and bool(np.all((got == want) | (np.isnan(got) & np.isnan(want))))


def check(d):
    files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
    sources = deepc_sources()
    fails = 0
    for f in files:
        with open(os.path.join(d, f), "rb") as fh:
            blob = fh.read()
        stem = f[: -len(".safetensors")]
        try:
            meta, entries, _ = unpack(blob, strict_writer=True)
            note = "%d tensors, %d metadata keys" % (len(entries), len(meta))
            if stem in sources:
                dtype, tensors, want_meta = sources[stem]
                if meta != dict(want_meta):
                    raise Bad("metadata %r != %r" % (meta, dict(want_meta)))
                got = {n: (dt, s, r) for n, dt, s, r in entries}
                if list(got) != [n for n, _ in tensors]:
                    raise Bad("tensors %r, expected %r in that order" % (list(got), [n for n, _ in tensors]))
                for n, a in tensors:
                    dt, s, r = got[n]
                    want = decode(dtype, encode(dtype, a), a.shape)
                    if dt != dtype or s != a.shape or not same_values(decode(dt, r, s), want):
                        raise Bad("tensor %r: %s %r differs from the %s conversion of the source" % (n, dt, s, dtype))
                if blob != deepc_bytes(dtype, tensors, want_meta):
                    raise Bad("bytes differ from the reference writer's")
                note += ", values and bytes equal the reference"
            twin = stem.replace("_f16", "_f32").replace("_bf16", "_f32")
            if stem.startswith("roundtrip_") and twin != stem and twin + ".safetensors" in files:
                # the F16/BF16 file must be the F32 twin's content converted and written as here
                dtype = "F16" if stem.endswith("_f16") else "BF16"
                with open(os.path.join(d, twin + ".safetensors"), "rb") as fh:
                    tmeta, tents, _ = unpack(fh.read(), strict_writer=True)
                src = [(n, decode("F32", r, s)) for n, _, s, r in tents]
                if blob != deepc_bytes(dtype, src, list(tmeta.items())):
                    raise Bad("bytes differ from the reference writer's %s conversion of %s.safetensors" % (dtype, twin))
                note += ", bytes equal the reference %s conversion of %s.safetensors" % (dtype, twin)
            print("ok   %s: %s" % (f, note))
        except (Bad, ValueError, UnicodeDecodeError) as e:
            print("FAIL %s: %s" % (f, e))
            fails += 1
    missing = [s for s in sources if s + ".safetensors" not in files]
    for s in missing:
        print("FAIL %s.safetensors: missing" % s)
    fails += len(missing)
    print("%d files checked, %d failed" % (len(files), fails))
    return 1 if fails else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "--check":
        if len(argv) != 3:
            sys.exit("usage: gen_safetensors.py --check DIR")
        return check(argv[2])
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    generate(argv[1] if len(argv) > 1 else os.path.normpath(os.path.join(root, "tests", "golden", "io")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
