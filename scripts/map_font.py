"""Write assets/fonts/map-latin.ttf: the map's own font for the letters, digits and shapes it draws.

MapLibre draws map text from glyphs it fetches from the style's ``glyphs`` URL, or, for the
fontstacks the style's ``font-faces`` names, from a font file it fetches and renders itself
(layers/basemap.py). CJK characters are rendered with the browser's local fonts; everything else
(digits of the counts, Latin letters in English, the resources' shapes) comes from this file, served
by the app, so no map text is ever asked of a font server (docs/design.md §3).

Deterministic: the same DejaVu Sans Bold gives the same bytes. Run from the project root::

    .venv/bin/python scripts/map_font.py [path/to/DejaVuSans-Bold.ttf]

Needs fontTools (requirements-test.txt). DejaVu fonts are free to redistribute (their licence
travels with the file in assets/fonts/LICENSE-DejaVu.txt).
"""
from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

from layers.basemap import MAP_FONT_RANGES

SOURCE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
TARGET = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "map-latin.ttf"


def main(source: Path = SOURCE) -> None:
    """Subset ``source`` to :data:`layers.basemap.MAP_FONT_RANGES` and write it to ``TARGET``."""
    codes = [c for lo, hi in MAP_FONT_RANGES for c in range(lo, hi + 1)]
    options = subset.Options()
    options.layout_features = ["kern", "liga"]
    options.name_IDs = ["*"]  # keep the copyright and licence names
    options.notdef_outline = True
    options.hinting = False  # MapLibre renders its own distance fields: hints are dead weight
    font = subset.load_font(str(source), options)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=codes)
    sub.subset(font)
    font["head"].modified = font["head"].created  # no build time in the bytes
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(TARGET), options)
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
