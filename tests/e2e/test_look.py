"""How the pages look in a real Chromium: both colour themes, and a phone's width.

What no unit test can see: the dark theme (``prefers-color-scheme: dark``) really applies, and
in both themes every piece of text keeps WCAG AA contrast against what is behind it, measured on
the rendered page; no page scrolls sideways at 390 px; and the layout fixes of issue 12 hold
(claim names wrap only between words, JSON keeps its indentation on phones, the admin table
keeps its column labels on phones, the header stays on one row).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.e2e.browser import sign_in
from tests.support.server import ThreadedServer

pytestmark = pytest.mark.e2e

#: Every kind of page, as a signed-out visitor, the admin, and a user without the admin role.
SIGNED_OUT = [
    "/",
    "/spa",
    "/auth/login?returnTo=%2Fprofile&error=session_expired",
    "/auth/error?error=invalid_state",
    "/nowhere",
    "/auth/logout/success",
    "/auth/logout/callback?state=forged",
]
ADMIN = ["/", "/profile", "/admin", "/spa", "/auth/logout"]
ALICE = ["/admin"]  # the 403 page

# WCAG 2.1 1.4.3: 4.5:1 for text, 3:1 for large text (24 px, or 18.66 px bold).
# Each element's own text, and the text of its ::before (labels, marks), against the colours
# actually behind it: the backgrounds of it and its ancestors, blended up to the first opaque
# one. Disabled controls are exempt (WCAG: "part of an inactive user interface component").
LOOK = r"""() => {
  const parse = (c) => {
    let m = c.match(/^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    m = c.match(/^color\(srgb ([\d.]+) ([\d.]+) ([\d.]+)(?: \/ ([\d.]+))?\)$/);
    if (m) return [m[1] * 255, m[2] * 255, m[3] * 255, m[4] === undefined ? 1 : +m[4]];
    throw new Error(`unparsed colour ${c}`);
  };
  const over = (top, below) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat(1);
  };
  const backdrop = (el, own) => {
    const layers = own ? [own] : [];
    for (let node = el; node && layers.at(-1)?.[3] !== 1; node = node.parentElement) {
      layers.push(parse(getComputedStyle(node).backgroundColor));
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const luminance = ([r, g, b]) => {
    const f = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const needed = (style) => {
    const px = parseFloat(style.fontSize);
    return px >= 24 || (px >= 18.66 && +style.fontWeight >= 700) ? 3 : 4.5;
  };
  const poor = [];
  const judge = (el, style, text, own) => {
    const bg = backdrop(el, own);
    const fg = over(parse(style.color), bg);
    const r = ratio(fg, bg);
    if (r < needed(style)) {
      poor.push(`${JSON.stringify(text.slice(0, 40))} ${r.toFixed(2)}:1`
        + ` (${style.color} on rgb(${bg.slice(0, 3).map(Math.round)}))`);
    }
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (!el.getClientRects().length || el.closest(':disabled')) continue;
    const style = getComputedStyle(el);
    if (style.visibility !== 'visible') continue;
    const text = [...el.childNodes].filter((n) => n.nodeType === 3)
      .map((n) => n.textContent).join('').trim();
    if (text) judge(el, style, text);
    const before = getComputedStyle(el, '::before');
    if (!['none', 'normal', '""'].includes(before.content) && before.display !== 'none') {
      const own = parse(before.backgroundColor);
      judge(el, before, `::before ${before.content}`, own[3] > 0 ? own : null);
    }
  }
  const body = getComputedStyle(document.body);
  return { background: body.backgroundColor, color: body.color, poor };
}"""

# Where a page is wider than the phone, or its header is more than one row.
FIT = """() => {
  const root = document.documentElement;
  const items = [document.querySelector('.brand'), ...document.querySelector('nav').children];
  const rects = items.map((el) => el.getBoundingClientRect());
  return {
    overflow: root.scrollWidth - root.clientWidth,
    oneRow: Math.max(...rects.map((r) => r.top)) < Math.min(...rects.map((r) => r.bottom)),
  };
}"""

# How many lines each text node is laid out on: in claim names, each part between the <wbr>s must
# stay on one line; a structured value or the raw JSON has one line box per line of text.
LINES = """(selector) => [...document.querySelectorAll(selector)].flatMap((el) =>
  [...el.childNodes].filter((n) => n.nodeType === 3 && n.textContent).map((n) => {
    const range = document.createRange();
    range.selectNodeContents(n);
    const tops = [...range.getClientRects()].map((r) => Math.round(r.top));
    return [n.textContent, new Set(tops).size];
  }))"""


def luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in css.removeprefix("rgb(").removesuffix(")").split(", "))
    linear = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in (r, g, b)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def each_theme(page: Page, url: str, paths: list[str]) -> None:
    """Every page in the light and the dark theme: readable in both, and really different."""
    for path in paths:
        seen: dict[str, Any] = {}
        for theme in ("light", "dark"):
            # Set before loading, so the page starts in the theme (no transition is running).
            page.emulate_media(color_scheme=theme)
            page.goto(url + path)
            seen[theme] = look = page.evaluate(LOOK)
            assert look["poor"] == [], f"{path} ({theme}): text below AA contrast: {look['poor']}"
        light, dark = seen["light"], seen["dark"]
        assert dark["background"] != light["background"], path
        assert luminance(dark["background"]) < 0.02, path  # a deep navy, not a grey
        assert luminance(light["background"]) > 0.9, path
        assert luminance(dark["color"]) > luminance(light["color"]), path


def test_both_themes_signed_out(page: Page, app: ThreadedServer) -> None:
    each_theme(page, app.url, SIGNED_OUT)


def test_both_themes_signed_in(context: BrowserContext, app: ThreadedServer) -> None:
    admin = context.new_page()
    sign_in(admin, app.url, "admin")
    each_theme(admin, app.url, ADMIN)
    admin.goto(app.url + "/profile")  # still dark
    admin.get_by_text("Raw JSON").click()
    assert admin.evaluate(LOOK)["poor"] == []  # the JSON block too
    context.clear_cookies()
    alice = context.new_page()
    sign_in(alice, app.url, "alice")
    each_theme(alice, app.url, ALICE)


def fits(page: Page, url: str, paths: list[str]) -> None:
    for path in paths:
        page.goto(url + path)
        fit = page.evaluate(FIT)
        assert fit["overflow"] <= 0, f"{path} scrolls {fit['overflow']} px sideways on a phone"
        assert fit["oneRow"], f"{path}: the header takes more than one row on a phone"


def test_no_page_is_wider_than_a_phone(
    phone: Page, phone_context: BrowserContext, app: ThreadedServer
) -> None:
    fits(phone, app.url, SIGNED_OUT)
    sign_in(phone, app.url, "admin")
    fits(phone, app.url, ADMIN)
    phone_context.clear_cookies()
    alice = phone_context.new_page()
    sign_in(alice, app.url, "alice")
    fits(alice, app.url, ALICE)


def unbroken_claim_names(page: Page) -> None:
    parts = page.evaluate(LINES, "table.claims tbody th code")
    assert len(parts) > 20  # urn:zitadel:... names, in parts
    assert [text for text, lines in parts if lines != 1] == []


def test_claim_names_wrap_between_words(page: Page, app: ThreadedServer) -> None:
    sign_in(page, app.url, "admin")
    unbroken_claim_names(page)
    # The longest names did wrap (after a colon), so the table fits the page.
    wrapped = page.evaluate("""() => [...document.querySelectorAll('table.claims tbody th code')]
        .filter((el) => el.getClientRects().length > 1).map((el) => el.textContent)""")
    assert "urn:zitadel:iam:org:project:243864426485212394:roles" in wrapped
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")


def test_phone_layout_of_the_profile_and_admin_pages(phone: Page, app: ThreadedServer) -> None:
    sign_in(phone, app.url, "admin")
    unbroken_claim_names(phone)
    # Structured values and the raw JSON keep their indentation: one line box per line (they
    # scroll sideways inside their box instead of wrapping).
    phone.get_by_text("Raw JSON").click()
    for selector in ("pre.value", "pre.json"):
        blocks = phone.evaluate(LINES, selector)
        assert blocks, selector
        for text, lines in blocks:
            assert lines == text.count("\n") + 1, f"{selector} wrapped: {text[:60]!r}"
            assert "\n  " in text  # indented
    # The admin table is one block per row on a phone; each cell still shows its column.
    phone.goto(app.url + "/admin")
    labels = phone.evaluate("""() => [...document.querySelectorAll('table.claims td')].map((td) => {
        const before = getComputedStyle(td, '::before');
        return [td.dataset.label, before.content, before.display];
    })""")
    assert labels == [
        ["Organisation id", '"Organisation id"', "block"],
        ["Domain", '"Domain"', "block"],
    ]
