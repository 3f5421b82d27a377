"""The embeddable similar-articles block: `/widget.js` and the iframe page `/widget/<id>` (the origins
that may embed it: `cross_origin`; their HTTP caching: `caching`)."""
from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from index.errors import InvalidInput, NotFound

from .api import engine, similar_options
from .cross_origin import allowed_origins

bp = Blueprint("widget", __name__)

SCRIPT = Path(__file__).parent / "static" / "widget.js"
RTL = re.compile(r"^(ar|arc|ckb|dv|fa|he|iw|ps|sd|ug|ur|yi)(-|$)", re.IGNORECASE)
TITLES = {"ar": "مقالات مشابهة", "en": "Similar articles", "fr": "Articles similaires"}
# Headings of the items that top up a block (`fill`), as widget.js writes them.
FILL_TITLES = {
    "more_from_section": {"ar": "المزيد من {section}", "en": "More from {section}", "fr": "Plus de {section}"},
    "latest": {"ar": "آخر الأخبار", "en": "Latest news", "fr": "Dernières nouvelles"},
}
DEFAULT_K = 5  # when the block asks for neither k nor a profile
BLOCK_OPTIONS = ("k", "profile", "fill")  # the similar-request options a block takes (the rest are display)
PAGE_CSS = "html,body{margin:0;padding:0;background:transparent}.sa-block{margin:0}"

UNITS = (("year", 31536000), ("month", 2592000), ("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60))
NOW = {"ar": "الآن", "en": "now"}
# Arabic forms one, two, few (3-10), many (11-99), other (100-102, ...), as Intl.RelativeTimeFormat writes them.
AR_FORMS = {
    "minute": ("دقيقة واحدة", "دقيقتين", "دقائق", "دقيقة", "دقيقة"),
    "hour": ("ساعة واحدة", "ساعتين", "ساعات", "ساعة", "ساعة"),
    "day": ("يوم واحد", "يومين", "أيام", "يومًا", "يوم"),
    "week": ("أسبوع واحد", "أسبوعين", "أسابيع", "أسبوعًا", "أسبوع"),
    "month": ("شهر واحد", "شهرين", "أشهر", "شهرًا", "شهر"),
    "year": ("سنة واحدة", "سنتين", "سنوات", "سنة", "سنة"),
}


# -- pure helpers ----------------------------------------------------------------------------


def base_language(lang: str) -> str:
    return lang.split("-")[0].lower()


def is_rtl(lang: str) -> bool:
    return bool(RTL.match(lang))


def block_language(requested: str | None, article_language: str | None, items: list[dict[str, Any]]) -> str:
    """The block's language: asked for, else the article's, else the items' most common (on a tie, the
    first item's), else English. widget.js applies the same rule (then the host page's language)."""
    common = Counter(i.get("language") for i in items if i.get("language")).most_common(1)
    return requested or article_language or (common[0][0] if common else "en")


def block_title(requested: str | None, lang: str) -> str:
    return requested or TITLES.get(base_language(lang), TITLES["en"])


def arabic_plural(n: int, forms: tuple[str, ...]) -> str:
    """`قبل ...` for n >= 1 with the CLDR Arabic plural category of n."""
    if n == 1:
        return f"قبل {forms[0]}"
    if n == 2:
        return f"قبل {forms[1]}"
    form = forms[2] if 3 <= n % 100 <= 10 else forms[3] if 11 <= n % 100 <= 99 else forms[4]
    return f"قبل {n} {form}"


def relative_time(iso: str, lang: str, now: datetime) -> str:
    """'3 days ago' / 'قبل 3 أيام' as the widget writes it; other languages get the date (YYYY-MM-DD)."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0.0, (now - moment).total_seconds())  # a date in the future reads "now"
    lang = base_language(lang)
    if lang not in NOW:
        return iso[:10]
    for unit, size in UNITS:
        if seconds >= size:
            n = int(seconds // size)
            if lang == "ar":
                return arabic_plural(n, AR_FORMS[unit])
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return NOW[lang]


def safe_url(url: Any) -> str | None:
    """Only http(s) URLs become links."""
    return url if isinstance(url, str) and re.match(r"^https?://", url, re.IGNORECASE) else None


def block_items(items: Iterable[dict[str, Any]], lang: str, now: datetime) -> list[dict[str, Any]]:
    """What the page shows of each item (plain values: the template escapes them)."""
    return [
        {
            "id": item.get("id") or "",
            "relation": item.get("relation") or "",
            "headline": item.get("headline") or "",
            "href": safe_url(item.get("url")),
            "source": item.get("source") or "",
            "published_at": item.get("published_at") or "",
            "when": relative_time(item["published_at"], lang, now) if item.get("published_at") else "",
            "language": item.get("language") or "",
        }
        for item in items
    ]


def block_params(args: Mapping[str, str]) -> dict[str, str]:
    """The similar-request parameters of a block (its other parameters are display options)."""
    params = {name: args[name] for name in BLOCK_OPTIONS if name != "fill" and args.get(name)}
    params = params or {"k": str(DEFAULT_K)}
    return {**params, "fill": args["fill"]} if args.get("fill") else params


def block_parts(items: list[dict[str, Any]], title: str, lang: str) -> list[dict[str, Any]]:
    """The block's lists, each under its heading: the items found (similar), then those that top
    it up, by fill relation (never under the similar heading)."""
    found = [i for i in items if i.get("relation") not in FILL_TITLES]
    parts = [{"title": title, "items": found}] if found else []
    for relation, titles in FILL_TITLES.items():
        extra = [i for i in items if i.get("relation") == relation]
        if extra:
            heading = titles.get(base_language(lang), titles["en"]).replace("{section}", extra[0].get("section") or "")
            parts.append({"title": heading, "items": extra})
    return parts


def css_between_markers(script: str) -> str:
    """The block's stylesheet, kept once in widget.js between `/*sa-css*/` and `/*/sa-css*/`."""
    found = re.search(r"/\*sa-css\*/.*?/\*/sa-css\*/", script, re.DOTALL)
    if not found:
        raise ValueError("widget.js has no /*sa-css*/ ... /*/sa-css*/ stylesheet")
    return found.group(0)


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def page_policy(style: str, allowed: frozenset[str] | None) -> str:
    """The iframe page's Content-Security-Policy: no script at all, only its own hashed stylesheet."""
    ancestors = " ".join(sorted(allowed)) if allowed is not None else "*"
    return (f"default-src 'none'; style-src {csp_hash(style)}; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {ancestors}")


# -- routes and hooks ------------------------------------------------------------------------


def read_script() -> str:
    return SCRIPT.read_text(encoding="utf-8")


@bp.get("/widget.js")
def script():
    return Response(read_script(), mimetype="text/javascript")


@bp.get("/widget/<path:article_id>")
def page(article_id: str):
    args = request.args
    style = css_between_markers(read_script()) + PAGE_CSS
    status, context = 200, {}
    try:
        answer = engine().similar(article_id, similar_options(block_params(args)))
    except NotFound:
        status = 404
    except InvalidInput as exc:
        status, context = 400, {"message": exc.message}
    if status == 200:
        lang = block_language(args.get("lang"), answer["article"].get("language"), answer["items"])
        context = {
            "lang": lang,
            "dir": "rtl" if is_rtl(lang) else "ltr",
            "title": block_title(args.get("title"), lang),
            "dark": args.get("theme") == "dark",
            "items": answer["items"],
            "parts": [{"title": part["title"], "rows": block_items(part["items"], lang, datetime.now(UTC))}
                      for part in block_parts(answer["items"], block_title(args.get("title"), lang), lang)],
        }
    html = render_template("widget.html", style=Markup(style), status=status, **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = page_policy(style, allowed_origins())
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response
