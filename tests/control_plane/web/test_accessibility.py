"""What can be checked of accessibility without a browser: colour contrast, labels, landmarks, headings.

The browser tests check the rendered pages too (every control named, keyboard
reachable); these pin the stylesheet's palette and every template's structure.
"""

import re
from pathlib import Path

import pytest

from api_direct.control_plane.web.rendering import STATIC_DIR

TEMPLATES = STATIC_DIR.parent / "templates"
#: (foreground, background) pairs the stylesheet draws text with.
TEXT_ON = [
    ("fg", "bg"),
    ("muted", "bg"),
    ("accent", "bg"),
    ("danger", "bg"),
    ("ok", "bg"),
    ("fg", "surface"),
    ("muted", "surface"),
    ("accent", "surface"),
    ("accent-fg", "accent"),
    ("accent-fg", "danger"),
    ("accent-fg", "ok"),
    ("warn-fg", "warn-bg"),
]


def palette() -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", (STATIC_DIR / "app.css").read_text()))


def luminance(colour: str) -> float:
    """WCAG 2's relative luminance of an sRGB colour."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_formula_is_wcags() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54  # the well-known lightest grey that passes AA


@pytest.mark.parametrize(("foreground", "background"), TEXT_ON)
def test_text_colours_meet_wcag_aa(foreground: str, background: str) -> None:
    colours = palette()
    assert contrast(colours[foreground], colours[background]) >= 4.5, (foreground, background)


@pytest.mark.parametrize("series", ["calls", "billable", "errors"])
def test_chart_bars_stand_out_from_the_page(series: str) -> None:
    """Non-text contrast (WCAG 1.4.11) is 3:1; the numbers are also in a table under each chart."""
    colours = palette()
    assert contrast(colours[series], colours["bg"]) >= 3


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")), ids=str)
def test_every_field_has_a_label(template: str) -> None:
    source = (TEMPLATES / template).read_text()
    labelled = set(re.findall(r'<label for="([^"]+)"', source))
    for field in re.findall(r"<(?:input|select|textarea)\b[^>]*>", source):
        if 'type="hidden"' in field:
            continue
        found = re.search(r'id="([^"]+)"', field)
        assert found and found.group(1) in labelled, f"{template}: {field}"


def test_the_frame_has_landmarks_a_skip_link_and_a_language() -> None:
    base = (TEMPLATES / "base.html").read_text()
    for part in (
        '<html lang="en">',
        '<a class="skip" href="#main">',
        '<main id="main"',
        '<nav aria-label="Main">',
        'name="viewport"',
    ):
        assert part in base


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html") if p.name != "base.html"), ids=str)
def test_each_page_has_one_top_heading(template: str) -> None:
    assert len(re.findall(r"<h1\b", (TEMPLATES / template).read_text())) == 1


def test_no_page_loads_anything_from_another_site() -> None:
    """No CDN: every asset is the app's own, under the pages' prefix."""
    for path in [*TEMPLATES.glob("*.html"), *STATIC_DIR.iterdir()]:
        source = Path(path).read_text()
        assert not re.search(r'(?:src|href)="(?:https?:)?//', source), path
        assert "@import" not in source and "url(http" not in source, path
