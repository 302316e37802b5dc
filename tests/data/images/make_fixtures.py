#!/usr/bin/python3
"""Writes the image fixtures of tests/test_image.c into this folder.

PNG files are written byte by byte here (zlib only), so every variant libpng reads is covered:
grey at 2, 8 and 16 bits, grey + alpha, RGB at 8 and 16 bits, RGBA, a 4-bit palette with a
tRNS chunk, and Adam7 interlacing. Their samples follow formulas that test_image.c computes
again. JPEG files are written by PIL (Debian's python3-pil, on libjpeg-turbo), and PIL's own
decoding of each is saved beside it as float32 [C, H, W] .npy, the values deepc must give
(both decode with libjpeg-turbo's defaults). arithmetic.jpg and restart.jpg are colour.jpg
recoded losslessly by jpegtran (Debian's libjpeg-turbo-progs): arithmetic coding, and a restart
marker every MCU row; they decode to colour.npy. Run from anywhere: /usr/bin/python3 make_fixtures.py
"""
import os
import struct
import subprocess
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def chunk(kind, data):
    c = kind + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)


def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    out, acc, nbits = bytearray(), 0, 0
    for s in samples:
        acc = acc << depth | s
        nbits += depth
        if nbits == 8:
            out.append(acc)
            acc, nbits = 0, 0
    if nbits:
        out.append(acc << (8 - nbits))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, w, h, color_type, depth, pixel, palette=None, trns=None, interlace=False):
    """pixel(x, y) -> tuple of samples"""
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for xs, ys, dx, dy in passes:
        xsel = range(xs, w, dx)
        if not xsel:
            continue
        for y in range(ys, h, dy):
            samples = [s for x in xsel for s in pixel(x, y)]
            raw += b"\x00" + pack_row(samples, depth)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if palette:
        data += chunk(b"PLTE", bytes(v for rgb in palette for v in rgb))
    if trns:
        data += chunk(b"tRNS", bytes(trns))
    data += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += chunk(b"IEND", b"")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


# the formulas of test_image.c
def v8(x, y, c):
    return (x * 37 + y * 11 + c * 71) & 255


def v16(x, y, c):
    return (x * 9973 + y * 3571 + c * 12345) & 0xFFFF


def alpha8(x, y):
    return (x * 50 + y * 30 + 20) & 255


PALETTE = [((i * 16) & 255, (255 - i * 16) & 255, (i * 40) & 255) for i in range(16)]


def main():
    W, H = 5, 4
    write_png("grey8.png", W, H, 0, 8, lambda x, y: (v8(x, y, 0),))
    write_png("grey2.png", W, H, 0, 2, lambda x, y: ((x + y) & 3,))
    write_png("grey16.png", W, H, 0, 16, lambda x, y: (v16(x, y, 0),))
    write_png("grey_alpha8.png", W, H, 4, 8, lambda x, y: (v8(x, y, 0), alpha8(x, y)))
    write_png("rgb8.png", W, H, 2, 8, lambda x, y: tuple(v8(x, y, c) for c in range(3)))
    write_png("rgb16.png", W, H, 2, 16, lambda x, y: tuple(v16(x, y, c) for c in range(3)))
    write_png("rgba8.png", W, H, 6, 8, lambda x, y: tuple(v8(x, y, c) for c in range(3)) + (alpha8(x, y),))
    write_png("palette4.png", W, H, 3, 4, lambda x, y: ((x + 3 * y) % 16,), palette=PALETTE,
              trns=[0, 60, 120, 180])
    write_png("rgb8_interlaced.png", 9, 7, 2, 8, lambda x, y: tuple(v8(x, y, c) for c in range(3)), interlace=True)

    # PIL's grey conversion of rgb8.png, which deepc's channels = 1 must reproduce exactly
    rgb = Image.open(os.path.join(HERE, "rgb8.png"))
    np.save(os.path.join(HERE, "rgb8.L.npy"), np.asarray(rgb.convert("L"), dtype=np.float32)[None])

    # JPEG: a smooth colour picture (with some detail), grey, progressive and Adobe CMYK
    yy, xx = np.mgrid[0:12, 0:16]
    pic = np.stack([xx * 15, yy * 20, (xx * yy * 3) % 256], axis=-1).astype(np.uint8)
    jpegs = {
        "colour.jpg": (Image.fromarray(pic, "RGB"), dict(quality=90)),
        "grey.jpg": (Image.fromarray(pic[:, :, 0], "L"), dict(quality=90)),
        "progressive.jpg": (Image.fromarray(pic, "RGB"), dict(quality=85, progressive=True)),
        "cmyk.jpg": (Image.fromarray(pic, "RGB").convert("CMYK"), dict(quality=90)),
    }
    for name, (im, kw) in jpegs.items():
        path = os.path.join(HERE, name)
        im.save(path, "JPEG", **kw)
        back = Image.open(path)
        back = back.convert("L" if back.mode == "L" else "RGB")
        a = np.asarray(back, dtype=np.float32)
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        np.save(path[:-4] + ".npy", np.ascontiguousarray(a))
    colour = os.path.join(HERE, "colour.jpg")
    for name, args in (("arithmetic.jpg", ["-arithmetic"]), ("restart.jpg", ["-restart", "1"])):
        subprocess.run(["jpegtran"] + args + ["-outfile", os.path.join(HERE, name), colour], check=True)


if __name__ == "__main__":
    main()
