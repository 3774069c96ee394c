"""Fonts for figure text: Noto Sans CJK SC, shipped by the ``noto-cjk-sans-otc`` package.

The font is registered with matplotlib explicitly, from the installed package, so Chinese
labels have glyphs whatever fonts the system has and whatever matplotlib's font cache says.
The font is OFL-1.1 (© Adobe, for Google's Noto project), version 2.004.
"""

from __future__ import annotations

import functools

import noto_cjk_sans_otc
from matplotlib import font_manager

CJK_FAMILY = "Noto Sans CJK SC"
"""The face of the collection drawn for Chinese text (its Simplified Chinese glyph forms)."""

FIGURE_FONTS = [CJK_FAMILY, "DejaVu Sans"]
"""``font.family`` for figures: the CJK font first; matplotlib's own font for anything it lacks."""


@functools.cache
def figure_fonts() -> list[str]:
    """Register the bundled CJK font with matplotlib (once) and return `FIGURE_FONTS`.

    >>> figure_fonts()
    ['Noto Sans CJK SC', 'DejaVu Sans']
    >>> font_manager.findfont(CJK_FAMILY, fallback_to_default=False).face_index  # SC of the .ttc
    2
    """
    font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
    return list(FIGURE_FONTS)
