"""PDF from HTML with WeasyPrint, in Noto Sans SC: ``font_files``, ``font_face_css``, ``render_pdf``.

The fonts are the whole Noto Sans SC TTF files of npm's ``@expo-google-fonts/noto-sans-sc`` (weights 400 and
700), found in this order:

1. ``$MINYI_FONT_DIR``: a directory holding ``NotoSansSC_400Regular.ttf`` and ``NotoSansSC_700Bold.ttf``
   (directly, or in ``400Regular/`` and ``700Bold/`` as the npm package has them). When the variable is set,
   only that directory is looked in;
2. ``<repo>/node_modules/@expo-google-fonts/noto-sans-sc/`` (``npm ci`` puts it there; no root needed), then
   the same under the current directory.

Never the ``@fontsource`` unicode-range subsets: WeasyPrint mixes up the glyphs of a family split over many
files (民意周报 comes out as 民易周模). WeasyPrint embeds only the glyphs a document uses, so a PDF stays small.

``render_pdf(html)`` adds the ``@font-face`` rules itself (the HTML need not carry them, and a standalone HTML
page must not: they point at local files) and sets Noto Sans SC as the page's default family. Without the
fonts it still renders, with the system's fonts (Chinese text may then come out as blank boxes), and warns
with ``FontsMissingWarning`` (shown on stderr by default); ``require_fonts=True`` raises ``FontsMissing``
instead. ``fonts_available()`` tells beforehand.

Resources: only ``data:`` URLs, the font files and, when ``base_url`` is a local directory, files under it
are fetched. Anything else (http, other local files) is refused and left out of the PDF, so an HTML built
from citizens' text cannot make the renderer read the network or the disk.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "FONT_FAMILY",
    "FONT_NAMES",
    "FontsMissing",
    "FontsMissingWarning",
    "font_face_css",
    "font_files",
    "fonts_available",
    "render_pdf",
]

FONT_FAMILY = "Noto Sans SC"
FONT_PACKAGE = Path("node_modules") / "@expo-google-fonts" / "noto-sans-sc"
#: weight -> (sub-directory in the npm package, file name)
FONT_NAMES: dict[int, tuple[str, str]] = {
    400: ("400Regular", "NotoSansSC_400Regular.ttf"),
    700: ("700Bold", "NotoSansSC_700Bold.ttf"),
}
REPO = Path(__file__).resolve().parent.parent.parent

MISSING_MESSAGE = (
    "the Noto Sans SC fonts were not found (NotoSansSC_400Regular.ttf and NotoSansSC_700Bold.ttf in "
    "$MINYI_FONT_DIR, or node_modules/@expo-google-fonts/noto-sans-sc from `npm ci`); "
    "the PDF uses the system's fonts and Chinese text may not show"
)


class FontsMissing(RuntimeError):
    """The Noto Sans SC TTF files are not installed (``render_pdf(..., require_fonts=True)``)."""


class FontsMissingWarning(UserWarning):
    """``render_pdf`` rendered without the Noto Sans SC fonts."""


def _in(directory: Path) -> dict[int, Path] | None:
    found: dict[int, Path] = {}
    for weight, (sub, name) in FONT_NAMES.items():
        for candidate in (directory / name, directory / sub / name):
            if candidate.is_file():
                found[weight] = candidate.resolve()
                break
        else:
            return None
    return found


def font_files() -> dict[int, Path] | None:
    """``{400: path, 700: path}`` of the Noto Sans SC TTF files, or ``None`` when either is missing."""
    explicit = os.environ.get("MINYI_FONT_DIR", "").strip()
    if explicit:
        return _in(Path(explicit).expanduser())
    for root in (REPO, Path.cwd()):
        found = _in(root / FONT_PACKAGE)
        if found is not None:
            return found
    return None


def fonts_available() -> bool:
    return font_files() is not None


def font_face_css() -> str:
    """``@font-face`` rules for Noto Sans SC 400 and 700 with ``file://`` URLs (empty without the fonts)."""
    files = font_files()
    if files is None:
        return ""
    return "".join(
        f'@font-face {{ font-family: "{FONT_FAMILY}"; font-style: normal; font-weight: {weight}; '
        f'src: url("{path.as_uri()}") format("truetype"); }}\n'
        for weight, path in sorted(files.items())
    )


def _allowed(url: str, fonts: set[str], base: Path | None) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "data":
        return True
    if parts.scheme != "file":
        return False
    path = Path(unquote(parts.path)).resolve()
    if str(path) in fonts:
        return True
    return base is not None and path.is_relative_to(base)


def _fetcher(fonts: set[str], base: Path | None) -> Any:
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # WeasyPrint before 66: a plain function
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            if not _allowed(url, fonts, base):
                raise ValueError(f"refused to fetch {url[:80]!r} (only the fonts and data: URLs)")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch

    class Fetcher(URLFetcher):  # type: ignore[misc, valid-type]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not _allowed(url, fonts, base):
                raise ValueError(f"refused to fetch {url[:80]!r} (only the fonts and data: URLs)")
            return super().fetch(url, headers)

    return Fetcher(allowed_protocols=("data", "file"))


def render_pdf(html: str, *, base_url: str | None = None, require_fonts: bool = False) -> bytes:
    """The PDF of ``html`` (a complete page or a fragment), in Noto Sans SC.

    Without the fonts: ``FontsMissing`` when ``require_fonts``, else a ``FontsMissingWarning`` and a PDF in the
    system's fonts. ``base_url``: a local directory whose files the page may use (images); nothing else is read.
    """
    import logging

    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    files = font_files()
    if files is None:
        if require_fonts:
            raise FontsMissing(MISSING_MESSAGE)
        warnings.warn(MISSING_MESSAGE, FontsMissingWarning, stacklevel=2)
    fonts = {str(p) for p in (files or {}).values()}
    base: Path | None = None
    if base_url:
        parts = urlsplit(base_url)
        if parts.scheme in ("", "file"):
            base = Path(unquote(parts.path)).resolve()
            base_url = base.as_uri() + "/"
        else:
            base_url = None
    fetcher = _fetcher(fonts, base)
    default = f'html {{ font-family: "{FONT_FAMILY}", sans-serif; }}\n'
    # a refused resource is logged by WeasyPrint as a warning: keep it quiet (the PDF simply leaves it out)
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        font_config = FontConfiguration()
        stylesheet = CSS(string=font_face_css() + default, url_fetcher=fetcher, font_config=font_config)
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
        return bytes(document.write_pdf(stylesheets=[stylesheet], font_config=font_config))
    finally:
        logger.setLevel(level)
