"""The daily report as a browser would load it: what it prints, and what it would fetch."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that load something by themselves; none belongs in a self-contained report.
LOADING_ELEMENTS = {"script", "link", "iframe", "img", "object", "embed", "base", "audio",
                    "video", "source", "frame", "track"}  # fmt: skip
# Attributes whose value a browser fetches or navigates to.
REFERENCE_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster",
                        "data", "background", "ping"}  # fmt: skip
_OUTSIDE_URL = re.compile(r"url\(\s*['\"]?(?!#)", re.IGNORECASE)


class ReportPage(HTMLParser):
    """`parse_report(html)` fills: external_references, centrals (per central section, its
    headline figures: data-figure -> text), notice, svgs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.external_references: list[str] = []
        self.centrals: dict[str, dict[str, str]] = {}
        self.notice: str | None = None
        self.svgs = 0
        self._central: str | None = None
        self._capture: tuple[str, str] | None = None  # (figure, closing tag)
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in LOADING_ELEMENTS:
            self.external_references.append(f"<{tag}>")
        for name, value in attributes.items():
            fetched = name in REFERENCE_ATTRIBUTES and not (value or "").startswith("#")
            if fetched or (value and _OUTSIDE_URL.search(value)):
                self.external_references.append(f"{tag} {name}={value!r}")
        self.svgs += tag == "svg"
        if tag == "section" and attributes.get("data-central"):
            self._central = attributes["data-central"]
            self.centrals[self._central] = {}
        if "data-figure" in attributes:
            self._capture, self._text = (attributes["data-figure"], tag), []
        elif attributes.get("id") == "notice":
            self._capture, self._text = ("notice", tag), []

    def handle_endtag(self, tag: str) -> None:
        if self._capture is not None and tag == self._capture[1]:
            figure, text = self._capture[0], "".join(self._text).strip()
            if figure == "notice":
                self.notice = text
            elif self._central is not None:
                self.centrals[self._central][figure] = text
            self._capture = None
        if tag == "section":
            self._central = None

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text.append(data)


def parse_report(html: str) -> ReportPage:
    page = ReportPage()
    page.feed(html)
    page.close()
    # Style sheets: no @import, and url() only to the document's own fragments.
    for sheet in re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.DOTALL | re.IGNORECASE):
        if "@import" in sheet.lower() or _OUTSIDE_URL.search(sheet):
            page.external_references.append(f"<style> {sheet[:80]!r}")
    return page
