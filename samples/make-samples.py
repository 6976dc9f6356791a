#!/usr/bin/python3
"""Rebuilds samples/ from the real-photo corpus of ../shared/corpus/get-corpus.sh.

usage: /usr/bin/python3 samples/make-samples.py CORPUS_DIR

Originals are CC0 or public-domain photographs (see samples/README.md), stored as JPEG with the
long side at most 640 px; near-duplicate variants of some of them are made with Pillow so that
the demo (`npm start`) has clusters to find. Needs Debian's python3-pil.
"""
import os, sys
from PIL import Image, ImageEnhance

corpus = os.path.join(sys.argv[1], "images")
out = os.path.dirname(os.path.abspath(__file__))
ORIGINALS = {
    "chelsea.jpg": "skimage__chelsea.png",
    "coffee.jpg": "skimage__coffee.png",
    "astronaut.jpg": "skimage__astronaut.png",
    "rocket.jpg": "skimage__rocket.jpg",
    "grace_hopper.jpg": "mpl__grace_hopper.jpg",
    "seeding.jpg": "lomiri16__seeding_by_Clements_Engelhardt.jpg",
    "keong_macan.jpg": "libjxl__cvo9xd_keong_macan_srgb8.png",
    "riaphotographs.jpg": "libjxl__tmshre_riaphotographs_srgb8.png",
    "bliznaca.jpg": "libjxl__u76c0g_bliznaca_srgb8.png",
    "snake.jpg": "libsixel__snake.png",
    "nature.jpg": "scribus__nature.jpg",
    "sunset.jpg": "scribus__sunset.jpg",
    "moon.jpg": "scribus__moon.jpg",
    "pizza.jpg": "scribus__pizza.jpg",
    "kites.jpg": "scribus__kites-bw.png",
    "teriyaki.jpg": "scribus__teriyaki.png",
}


def fit(im, side=640):
    im = im.convert("RGB")
    w, h = im.size
    f = min(1.0, side / max(w, h))
    return im.resize((max(1, round(w * f)), max(1, round(h * f))), Image.LANCZOS) if f < 1 else im


def exif_rotated(im, orientation):
    """Pixels stored sideways with an EXIF tag that makes a viewer show them upright."""
    stored = {6: Image.ROTATE_90, 8: Image.ROTATE_270, 3: Image.ROTATE_180}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    return im.transpose(stored), exif


originals = {}
for name, src in ORIGINALS.items():
    im = fit(Image.open(os.path.join(corpus, src)))
    im.save(os.path.join(out, name), quality=88)
    originals[name] = im

variants = os.path.join(out, "edited")
os.makedirs(variants, exist_ok=True)
o = originals
o["chelsea.jpg"].resize((225, 150), Image.LANCZOS).save(os.path.join(variants, "chelsea_small.jpg"), quality=88)
o["chelsea.jpg"].save(os.path.join(variants, "chelsea_q25.jpg"), quality=25)
ImageEnhance.Brightness(o["coffee.jpg"]).enhance(1.25).save(os.path.join(variants, "coffee_brighter.jpg"), quality=88)
im, exif = exif_rotated(o["coffee.jpg"], 6)
im.save(os.path.join(variants, "coffee_exif_rotated.jpg"), quality=88, exif=exif)
o["rocket.jpg"].resize((256, 171), Image.LANCZOS).save(os.path.join(variants, "rocket_thumbnail.png"))
o["astronaut.jpg"].resize((300, 300), Image.LANCZOS).save(os.path.join(variants, "astronaut_web.jpg"), quality=35)
im, exif = exif_rotated(o["nature.jpg"], 8)
im.save(os.path.join(variants, "nature_exif_rotated.jpg"), quality=88, exif=exif)
ImageEnhance.Contrast(o["sunset.jpg"]).enhance(1.2).save(os.path.join(variants, "sunset_contrast.jpg"), quality=88)
o["grace_hopper.jpg"].save(os.path.join(variants, "grace_hopper.webp"), quality=70)
ImageEnhance.Brightness(o["pizza.jpg"]).enhance(0.8).resize((400, 300), Image.LANCZOS).save(
    os.path.join(variants, "pizza_darker_small.jpg"), quality=80)
