#!/usr/bin/python3
"""Makes the image fixtures: small test images in every format and variant, and Pillow 9.4's
decoding, convert("RGB") / convert("L") and resize(size, BILINEAR) of them as expected outputs.

Run with Debian's python (Pillow from python3-pil):  /usr/bin/python3 tests/ref/make_image_fixtures.py
Writes tests/fixtures/images/. Deterministic: the same Pillow gives the same files.

Layout of tests/fixtures/images/:
  src/<name>.<ext>         input images (PNGs and PNMs are encoded by this script itself so that
                           every colour type, bit depth, maxval and interlacing is covered)
  decoded/<name>.rgb.ppm   Pillow: Image.open(src).convert("RGB"), as binary P6 maxval 255
  decoded/<name>.l.pgm     Pillow: Image.open(src).convert("L"), as binary P5 maxval 255
  resized/<base>_<mode>_<W>x<H>.png   convert(mode).resize((W, H), BILINEAR) of src/<base>
  manifest.txt             one line per decoded fixture: name format lossless(0/1)
  resize_manifest.txt      one line per resized fixture: base mode W H
  dogs.txt                 Stanford Dogs JPEGs: member, FNV-1a 64 of Pillow's 256x256 RGB
                           resize, and a few sample pixels (x y r g b)
"""
import io
import os
import struct
import sys
import zipfile
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "images")
DOGS_ZIP = os.path.join(HERE, "..", "..", "..", "shared", "data", "stanford_dogs_224",
                        "stanford_dogs_224_subset40.zip")
W, H = 37, 23


# ---------------------------------------------------------------- deterministic content

def base_rgb(w=W, h=H, seed=1):
    """Smooth gradients plus noise and a sharp edge: exercises rounding everywhere."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(x / 3.0 + y / 5.0)
    img = np.stack([r, g, b], axis=-1) + rng.uniform(-40, 40, size=(h, w, 3))
    img[h // 3: h // 3 + 4, :, :] = [250, 10, 128]  # a hard band
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def base_alpha(w=W, h=H, seed=2):
    rng = np.random.RandomState(seed)
    a = rng.randint(0, 256, size=(h, w)).astype(np.uint8)
    a[:, :3] = 0      # fully transparent columns (colour under alpha 0 must survive)
    a[:, -3:] = 255
    return a


def base_grey16(w=W, h=H, seed=3):
    rng = np.random.RandomState(seed)
    v = rng.randint(0, 65536, size=(h, w)).astype(np.uint16)
    v[0, :] = np.arange(w) * 7  # small values, where Pillow's clip to 255 is visible
    return v


# ---------------------------------------------------------------- a small PNG encoder

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def pack_row(samples, depth):
    """samples: 1-D array of ints for one row (all channels interleaved)."""
    if depth == 8:
        return bytes(samples.astype(np.uint8))
    if depth == 16:
        return samples.astype(">u2").tobytes()
    per_byte = 8 // depth
    out = bytearray()
    for i in range(0, len(samples), per_byte):
        byte = 0
        chunk = samples[i:i + per_byte]
        for j, s in enumerate(chunk):
            byte |= int(s) << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


def encode_png(pixels, color_type, depth, palette=None, trns=None, interlace=False, filters=(0,)):
    """pixels: (h, w) or (h, w, c) integer array of samples (indices for palette)."""
    h, w = pixels.shape[:2]
    flat = pixels.reshape(h, w, -1)
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    row_index = 0
    for x0, y0, dx, dy in passes:
        sub = flat[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            # filter type 0 (None) or 1 (Sub) on bytes; Sub exercises libpng's unfiltering
            data = pack_row(row.reshape(-1), depth)
            ftype = filters[row_index % len(filters)]
            row_index += 1
            if ftype == 1:
                bpp = max(1, (depth * flat.shape[2]) // 8)
                data = bytes((data[i] - (data[i - bpp] if i >= bpp else 0)) & 255
                             for i in range(len(data)))
            raw.append(ftype)
            raw += data
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0,
                                          1 if interlace else 0))
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    comp = zlib.compress(bytes(raw), 9)
    out += png_chunk(b"IDAT", comp[: len(comp) // 2]) + png_chunk(b"IDAT", comp[len(comp) // 2:])
    out += png_chunk(b"IEND", b"")
    return out


def png_variants():
    rgb = base_rgb().astype(np.int64)
    a = base_alpha().astype(np.int64)
    grey = np.asarray(Image.fromarray(base_rgb()).convert("L")).astype(np.int64)
    g16 = base_grey16().astype(np.int64)
    rgb16 = rgb * 257 + np.random.RandomState(4).randint(0, 257, size=rgb.shape)
    a16 = a * 257 + np.random.RandomState(5).randint(0, 257, size=a.shape)
    idx = (grey // 16)  # 0..15
    pal16 = [(i * 16, 255 - i * 13, (i * 97) % 256) for i in range(16)]
    v = {}
    v["png_g1"] = encode_png(grey >> 7, 0, 1)
    v["png_g2"] = encode_png(grey >> 6, 0, 2)
    v["png_g4"] = encode_png(grey >> 4, 0, 4)
    v["png_g8"] = encode_png(grey, 0, 8, filters=(0, 1))
    v["png_g16"] = encode_png(g16, 0, 16)
    v["png_g8_trns"] = encode_png(grey, 0, 8, trns=struct.pack(">H", 77))
    v["png_ga8"] = encode_png(np.dstack([grey, a]), 4, 8)
    v["png_ga16"] = encode_png(np.dstack([grey * 257 + 3, a16]), 4, 16)
    v["png_rgb8"] = encode_png(rgb, 2, 8, filters=(1, 0))
    v["png_rgb16"] = encode_png(rgb16, 2, 16)
    v["png_rgba8"] = encode_png(np.dstack([rgb, a]), 6, 8)
    v["png_rgba16"] = encode_png(np.dstack([rgb16, a16]), 6, 16)
    v["png_p1"] = encode_png(idx & 1, 3, 1, palette=[(10, 20, 30), (200, 150, 100)])
    v["png_p2"] = encode_png(idx & 3, 3, 2, palette=pal16[:4])
    v["png_p4"] = encode_png(idx, 3, 4, palette=pal16)
    v["png_p8"] = encode_png(grey, 3, 8, palette=[((i * 7) % 256, i, 255 - i) for i in range(256)])
    v["png_p8_trns"] = encode_png(idx, 3, 8, palette=pal16, trns=bytes([0, 128, 255, 7]))
    v["png_rgb8_interlaced"] = encode_png(rgb, 2, 8, interlace=True)
    v["png_g1_interlaced"] = encode_png(grey >> 7, 0, 1, interlace=True)
    v["png_p4_interlaced"] = encode_png(idx, 3, 4, palette=pal16, interlace=True)
    v["png_g16_interlaced"] = encode_png(g16, 0, 16, interlace=True)
    v["png_rgba16_interlaced"] = encode_png(np.dstack([rgb16, a16]), 6, 16, interlace=True)
    return v


# ---------------------------------------------------------------- PNM (written by hand)

def pnm_variants():
    rgb = base_rgb().astype(np.int64)
    grey = np.asarray(Image.fromarray(base_rgb()).convert("L")).astype(np.int64)
    bits = (grey < 128).astype(np.int64)  # 1 = black in PBM
    v = {}
    hdr = lambda magic, extra="": (f"{magic}\n# made by make_image_fixtures.py\n{W} {H}\n{extra}").encode()

    def ascii_rows(arr):
        return "\n".join(" ".join(str(int(s)) for s in row.reshape(-1)) for row in arr).encode() + b"\n"

    v["pnm_p1"] = hdr("P1") + "\n".join("".join(str(b) for b in row) for row in bits).encode() + b"\n"
    rows = [np.packbits(row.astype(np.uint8)).tobytes() for row in bits]
    v["pnm_p4"] = hdr("P4") + b"".join(rows)
    v["pnm_p2"] = hdr("P2", "7\n") + ascii_rows(grey * 7 // 255)
    v["pnm_p3"] = hdr("P3", "300\n") + ascii_rows(rgb * 300 // 255)
    v["pnm_p5"] = hdr("P5", "255\n") + bytes(grey.astype(np.uint8))
    v["pnm_p5_max15"] = hdr("P5", "15\n") + bytes((grey // 17).astype(np.uint8))
    v["pnm_p5_max1000"] = hdr("P5", "1000\n") + (grey * 1000 // 255).astype(">u2").tobytes()
    v["pnm_p5_max65535"] = hdr("P5", "65535\n") + base_grey16().astype(">u2").tobytes()
    v["pnm_p6"] = hdr("P6", "255\n") + bytes(rgb.astype(np.uint8))
    v["pnm_p6_max100"] = hdr("P6", "100\n") + bytes((rgb * 100 // 255).astype(np.uint8))
    v["pnm_p6_max4095"] = hdr("P6", "4095\n") + (rgb * 4095 // 255).astype(">u2").tobytes()
    return v


# ---------------------------------------------------------------- Pillow-written formats

def pil_bytes(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg_variants():
    rgb = Image.fromarray(base_rgb())
    big = Image.fromarray(base_rgb(120, 90, seed=7))
    v = {}
    v["jpeg_420"] = pil_bytes(rgb, "JPEG", quality=90)
    v["jpeg_444"] = pil_bytes(rgb, "JPEG", quality=95, subsampling=0)
    v["jpeg_422"] = pil_bytes(rgb, "JPEG", quality=85, subsampling=1)
    v["jpeg_grey"] = pil_bytes(rgb.convert("L"), "JPEG", quality=90)
    v["jpeg_progressive"] = pil_bytes(big, "JPEG", quality=80, progressive=True)
    v["jpeg_cmyk"] = pil_bytes(rgb.convert("CMYK"), "JPEG", quality=90)
    return v


def webp_variants():
    rgb = Image.fromarray(base_rgb())
    rgba = Image.fromarray(np.dstack([base_rgb(), base_alpha()]))
    v = {}
    v["webp_lossless"] = pil_bytes(rgb, "WEBP", lossless=True)
    v["webp_lossless_alpha"] = pil_bytes(rgba, "WEBP", lossless=True, exact=True)
    v["webp_lossy"] = pil_bytes(rgb, "WEBP", quality=80)
    v["webp_lossy_alpha"] = pil_bytes(rgba, "WEBP", quality=80)
    return v


def gif_with_offset(img, screen, left, top):
    """A Pillow GIF with the logical screen enlarged and frame 0 moved to (left, top)."""
    data = bytearray(pil_bytes(img, "GIF", interlace=False))
    struct.pack_into("<HH", data, 6, *screen)
    pos = 13 + ((3 << ((data[10] & 7) + 1)) if data[10] & 0x80 else 0)
    while data[pos] != 0x2C:  # skip extensions
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    struct.pack_into("<HH", data, pos + 1, left, top)
    return bytes(data)


def gif_variants():
    rgb = Image.fromarray(base_rgb())
    pal = rgb.quantize(colors=32, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    v = {}
    v["gif_plain"] = pil_bytes(pal, "GIF", interlace=False)
    v["gif_interlaced"] = pil_bytes(pal, "GIF", interlace=True)
    v["gif_transparent"] = pil_bytes(pal, "GIF", transparency=3, interlace=False)
    v["gif_grey"] = pil_bytes(rgb.convert("L"), "GIF")
    small = Image.fromarray(base_rgb(20, 11, seed=9)).quantize(colors=16, dither=Image.Dither.NONE)
    v["gif_offset"] = gif_with_offset(small, (W, H), 9, 5)
    v["gif_offset_transparent"] = gif_with_offset(small.copy(), (W, H), 3, 8)
    # transparency for the offset frame: patch the graphic control extension in
    b = bytearray(pil_bytes(small, "GIF", transparency=2, interlace=False))
    struct.pack_into("<HH", b, 6, W, H)
    pos = 13 + ((3 << ((b[10] & 7) + 1)) if b[10] & 0x80 else 0)
    while b[pos] != 0x2C:
        pos += 2
        while b[pos]:
            pos += b[pos] + 1
        pos += 1
    struct.pack_into("<HH", b, pos + 1, 3, 8)
    v["gif_offset_transparent"] = bytes(b)
    return v


# ---------------------------------------------------------------- outputs

def write_pnm(path, img):
    magic = b"P6" if img.mode == "RGB" else b"P5"
    with open(path, "wb") as f:
        f.write(magic + b"\n%d %d\n255\n" % img.size + img.tobytes())


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


RESIZES = [(256, 256), (16, 16), (100, 7), (7, 100), (74, 46), (12, 23), (37, 60), (1, 1),
           (111, 69), (19, 11), (300, 5)]


def main():
    for sub in ("src", "decoded", "resized"):
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    groups = [("png", png_variants(), True), ("pnm", pnm_variants(), True),
              ("jpeg", jpeg_variants(), False), ("webp", webp_variants(), None),
              ("gif", gif_variants(), True)]
    ext = {"png": "png", "pnm": "pnm", "jpeg": "jpg", "webp": "webp", "gif": "gif"}
    manifest = []
    for fmt, variants, lossless in groups:
        for name, data in sorted(variants.items()):
            # the extension is cosmetic: the library detects the format from the bytes
            path = os.path.join(OUT, "src", f"{name}.{ext[fmt]}")
            with open(path, "wb") as f:
                f.write(data)
            im = Image.open(path)
            write_pnm(os.path.join(OUT, "decoded", f"{name}.rgb.ppm"), im.convert("RGB"))
            write_pnm(os.path.join(OUT, "decoded", f"{name}.l.pgm"), Image.open(path).convert("L"))
            manifest.append(f"{name}.{ext[fmt]} {fmt} {Image.open(path).mode}")
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("# src file, format, Pillow mode on open\n" + "\n".join(manifest) + "\n")

    rmanifest = []
    for base in ("png_rgb8.png", "jpeg_420.jpg"):
        for mode in ("RGB", "L"):
            for w, h in RESIZES:
                if base != "png_rgb8.png" and w * h > 10000:
                    continue  # keep the fixtures small: the large targets only once
                im = Image.open(os.path.join(OUT, "src", base)).convert(mode)
                out = im.resize((w, h), Image.BILINEAR)
                name = f"{base.split('.')[0]}_{mode}_{w}x{h}.png"
                out.save(os.path.join(OUT, "resized", name), optimize=True)
                rmanifest.append(f"{base} {mode} {w} {h} {name}")
    # a larger downscale source (progressive JPEG 120x90)
    for w, h in [(37, 23), (13, 40), (60, 45)]:
        im = Image.open(os.path.join(OUT, "src", "jpeg_progressive.jpg")).convert("RGB")
        name = f"jpeg_progressive_RGB_{w}x{h}.png"
        im.resize((w, h), Image.BILINEAR).save(os.path.join(OUT, "resized", name), optimize=True)
        rmanifest.append(f"jpeg_progressive.jpg RGB {w} {h} {name}")
    with open(os.path.join(OUT, "resize_manifest.txt"), "w") as f:
        f.write("# src file, mode, width, height, expected (Pillow convert(mode).resize(BILINEAR))\n")
        f.write("\n".join(rmanifest) + "\n")

    if os.path.exists(DOGS_ZIP):
        lines = ["# zip member, FNV-1a 64 of Pillow convert('RGB').resize((256,256), BILINEAR) "
                 "bytes, then samples x,y,r,g,b"]
        with zipfile.ZipFile(DOGS_ZIP) as z:
            members = sorted(n for n in z.namelist() if n.endswith(".jpg"))
            for member in [members[0], members[1001], members[2500], members[4799]]:
                im = Image.open(io.BytesIO(z.read(member))).convert("RGB")
                out = im.resize((256, 256), Image.BILINEAR)
                samples = []
                for x, y in [(0, 0), (255, 255), (128, 77), (3, 250)]:
                    r, g, b = out.getpixel((x, y))
                    samples.append(f"{x},{y},{r},{g},{b}")
                lines.append(f"{member} {fnv1a64(out.tobytes()):016x} {' '.join(samples)}")
        with open(os.path.join(OUT, "dogs.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    else:
        print("warning: Stanford Dogs zip not found, dogs.txt not written", file=sys.stderr)


if __name__ == "__main__":
    main()
