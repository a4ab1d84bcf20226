"""Render a standalone HTML page (the field map's print layout) to PDF or PNG with headless Chromium.

The page is written to a private temporary directory and opened from disk
(``file://``): the field map inlines Leaflet, which draws with SVG (no WebGL),
so no server and no GPU are needed. Chromium runs with its own throw-away
profile (so several exports can run at once) and with every host name
resolving nowhere, so a page that did reach for the network would show it by
failing, not by leaking.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["ChromiumError", "chromium_path", "render_pdf", "render_png", "A4_PX"]

#: A4 portrait at 96 CSS px per inch (210 × 297 mm).
A4_PX = (794, 1123)

#: Flags for every run: headless, no sandbox (containers), no GPU, no network, no profile.
BASE_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
    "--no-first-run", "--disable-extensions", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--run-all-compositor-stages-before-draw",
    # Let the page's scripts run to completion before the print or screenshot.
    "--virtual-time-budget=3000",
]


class ChromiumError(RuntimeError):
    """Chromium is not installed, failed, or produced no output."""


def chromium_path() -> str:
    """The Chromium executable: ``$CHROMIUM``, else ``chromium``/``chromium-browser`` on PATH."""
    for cand in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"):
        if cand and (found := shutil.which(cand)):
            return found
    raise ChromiumError("headless Chromium is needed to render PDF/PNG exports: install Debian's "
                        "'chromium' (and 'fonts-noto-cjk' for Chinese text) or set $CHROMIUM")


def _run(html: str, out_name: str, args: list[str], timeout: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="fieldmap-") as tmp:
        tmpdir = Path(tmp)
        page = tmpdir / "page.html"
        page.write_text(html, encoding="utf-8")
        out = tmpdir / out_name
        cmd = [chromium_path(), *BASE_ARGS, f"--user-data-dir={tmpdir / 'profile'}",
               *[a.replace("{out}", str(out)) for a in args], page.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=tmpdir)
        except subprocess.TimeoutExpired:
            raise ChromiumError(f"Chromium did not finish rendering in {timeout:.0f} s") from None
        if not out.exists() or out.stat().st_size == 0:
            tail = proc.stderr.decode("utf-8", "replace")[-1500:]
            raise ChromiumError(f"Chromium exited with {proc.returncode} and wrote no {out_name}: {tail}")
        return out.read_bytes()


def render_pdf(html: str, timeout: float = 60) -> bytes:
    """The page printed to PDF (its own ``@page`` rules set size and margins; no header or footer)."""
    return _run(html, "page.pdf", ["--print-to-pdf={out}", "--no-pdf-header-footer"], timeout)


def render_png(html: str, width: int = A4_PX[0], height: int = A4_PX[1], timeout: float = 60) -> bytes:
    """A ``width``×``height`` px screenshot of the page (default: A4 portrait at 96 dpi)."""
    return _run(html, "page.png", ["--screenshot={out}", f"--window-size={width},{height}"], timeout)
