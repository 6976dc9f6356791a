#!/usr/bin/python3
"""The second near-duplicate set: the edits users make that whole-picture hashes handle worst.

usage: make-edits.py CORPUS_DIR OUT_DIR [--originals 60] [--seed 1] [make-variants.py options]

Runs ../shared/corpus/make-variants.py (same output layout: OUT_DIR/images/ and
ground_truth.json, scored by ../shared/corpus/score.py) with its transform table replaced by
the one below, so make-variants' own seed-0 set stays as it is:

  small rotations  rot_1, rot_3 (cropped to the largest upright rectangle, as an editor's
                   "straighten" does), rot_5_fill (the whole picture, corners filled white)
  borders          border_05 (5 % of each side, white), border_10 (10 %, black),
                   letterbox_10 (bars of 10 % of the height above and below), pillarbox_10
  strips           banner_bottom (an opaque caption bar over the bottom 12 %), caption_top (a
                   translucent bar with text over the top 8 %)
  combined         crop_05 + brightness 1.1 + JPEG q60, rot_2 + border_05, mirror + crop_05,
                   scale 0.5 + contrast 0.8 + WebP

Needs Debian's python3-pil and python3-numpy (run with /usr/bin/python3) and fonts-dejavu-core.
"""
import importlib.util
import os
import sys

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_VARIANTS = os.path.join(HERE, "..", "..", "..", "shared", "corpus", "make-variants.py")
spec = importlib.util.spec_from_file_location("make_variants", MAKE_VARIANTS)
mv = importlib.util.module_from_spec(spec)
sys.modules["make_variants"] = mv  # the worker processes unpickle make_variants.work_one
spec.loader.exec_module(mv)

_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _font(size):
    try:
        return ImageFont.truetype(_FONT, size)
    except OSError:
        return ImageFont.load_default()


def _rotate_crop(deg):
    """Rotates by deg and keeps the largest axis-aligned rectangle of the same aspect inside."""
    def t(im):
        import math
        w, h = im.size
        r = im.rotate(deg, resample=Image.BICUBIC, expand=False)
        a = math.radians(abs(deg))
        # the largest w'×h' of aspect w:h inside the rotated w×h frame
        k = min(w / (w * math.cos(a) + h * math.sin(a)), h / (w * math.sin(a) + h * math.cos(a)))
        cw, ch = round(w * k), round(h * k)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return r.crop((x0, y0, x0 + cw, y0 + ch)), dict(degrees_ccw=deg, kept=round(k, 3))
    return t


def _rotate_fill(deg):
    def t(im):
        return im.rotate(deg, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255)), \
            dict(degrees_ccw=deg, fill="white", expand=True)
    return t


def _border(frac, colour, sides="all"):
    def t(im):
        w, h = im.size
        dx = round(w * frac) if sides in ("all", "lr") else 0
        dy = round(h * frac) if sides in ("all", "tb") else 0
        out = Image.new("RGB", (w + 2 * dx, h + 2 * dy), colour)
        out.paste(im, (dx, dy))
        return out, dict(fraction=frac, colour=colour, sides=sides)
    return t


def _banner(where, frac, opacity):
    def t(im):
        im = im.convert("RGBA")
        w, h = im.size
        bh = max(4, round(h * frac))
        y0 = h - bh if where == "bottom" else 0
        over = Image.new("RGBA", im.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(over)
        d.rectangle((0, y0, w, y0 + bh), fill=(20, 30, 60, opacity))
        font = _font(max(8, round(bh * 0.55)))
        d.text((round(0.03 * w), y0 + round(bh * 0.2)), "Summer 2024 — with love from the lake",
               font=font, fill=(255, 255, 255, 255))
        out = Image.alpha_composite(im, over).convert("RGB")
        return out, dict(where=where, fraction=frac, opacity=round(opacity / 255, 2))
    return t


def _chain(*steps):
    def t(im):
        params = []
        for step in steps:
            im, p = step(im)
            params.append(p)
        return im, dict(steps=params)
    return t


def _enh(kind, f):
    cls = dict(brightness=ImageEnhance.Brightness, contrast=ImageEnhance.Contrast)[kind]
    return lambda im: (cls(im).enhance(f), dict(kind=kind, factor=f))


Q = mv.BASE_Q
mv.TRANSFORMS = {
    "rot_1": (_rotate_crop(1), "JPEG", dict(quality=Q)),
    "rot_3": (_rotate_crop(3), "JPEG", dict(quality=Q)),
    "rot_5_fill": (_rotate_fill(5), "JPEG", dict(quality=Q)),
    "border_05": (_border(0.05, (255, 255, 255)), "JPEG", dict(quality=Q)),
    "border_10": (_border(0.10, (0, 0, 0)), "JPEG", dict(quality=Q)),
    "letterbox_10": (_border(0.10, (0, 0, 0), "tb"), "JPEG", dict(quality=Q)),
    "pillarbox_10": (_border(0.10, (0, 0, 0), "lr"), "JPEG", dict(quality=Q)),
    "banner_bottom": (_banner("bottom", 0.12, 255), "JPEG", dict(quality=Q)),
    "caption_top": (_banner("top", 0.08, 170), "JPEG", dict(quality=Q)),
    "combo_crop_bright_q60": (_chain(mv._crop(0.05), _enh("brightness", 1.1)), "JPEG", dict(quality=60)),
    "combo_rot2_border": (_chain(_rotate_crop(2), _border(0.05, (255, 255, 255))), "JPEG", dict(quality=Q)),
    "combo_mirror_crop": (_chain(lambda im: (im.transpose(Image.FLIP_LEFT_RIGHT), {}), mv._crop(0.05)), "JPEG", dict(quality=Q)),
    "combo_scale_contrast_webp": (_chain(mv._scale(0.5), _enh("contrast", 0.8)), "WEBP", dict(quality=80, method=4)),
}

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--seed" not in args:
        args += ["--seed", "1"]
    sys.argv = [sys.argv[0]] + args
    mv.main()
