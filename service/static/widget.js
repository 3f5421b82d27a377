/* Similar-articles block. Embed:
 *   <div data-similar-articles data-article-id="ID"></div>
 *   <script src="https://SERVICE/widget.js" async></script>
 * Options (data-*): k, profile, fill ("section" or "latest": top up a short block), title, lang,
 * theme ("dark"), api (another service URL). Fill items are shown apart, under their own heading.
 * Every value from the API is inserted as text. On any failure the block removes itself. */
(function () {
  "use strict";
  if (window.SimilarArticles) return window.SimilarArticles.scan();

  const TIMEOUT_MS = 4000;
  const RTL = /^(ar|arc|ckb|dv|fa|he|iw|ps|sd|ug|ur|yi)(-|$)/i;
  const TITLES = { ar: "مقالات مشابهة", en: "Similar articles", fr: "Articles similaires" };
  // Headings of the items that top up a block (`fill`): never under the similar heading. Also in service/widget.py.
  const FILL_TITLES = {
    more_from_section: { ar: "المزيد من {section}", en: "More from {section}", fr: "Plus de {section}" },
    latest: { ar: "آخر الأخبار", en: "Latest news", fr: "Dernières nouvelles" },
  };
  const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  // Also read by service/widget.py for the iframe page: keep it between the two markers, no backslashes or ${.
  const CSS = `/*sa-css*/
.sa-block{display:block;box-sizing:border-box;margin:1.5em 0;padding:.9em 1.1em 1em;max-width:100%;
background:var(--sa-bg,#fff);color:var(--sa-text,#1d1d1f);border:1px solid var(--sa-border,#e2e2e6);
border-top:3px solid var(--sa-accent,#a3122a);border-radius:var(--sa-radius,8px);
font-family:var(--sa-font,system-ui,-apple-system,"Segoe UI","Noto Naskh Arabic",Tahoma,Arial,sans-serif);
font-size:var(--sa-size,16px);line-height:1.45;text-align:start;overflow-wrap:anywhere}
.sa-dark{--sa-bg:#16171b;--sa-text:#ececf1;--sa-muted:#a3a3ad;--sa-border:#2f3139;--sa-accent:#ff6b81}
.sa-block *{box-sizing:border-box}
.sa-block .sa-title,.sa-block .sa-subtitle{margin:0 0 .4em;padding:0;border:0;font:inherit;font-size:1.15em;font-weight:700;
line-height:1.3;color:inherit;letter-spacing:normal;text-transform:none}
.sa-block .sa-subtitle{margin-top:.8em;font-size:1em}
.sa-block .sa-list{list-style:none;margin:0;padding:0;display:grid;gap:0 1.4em;
grid-template-columns:repeat(auto-fill,minmax(min(100%,15em),1fr))}
.sa-block .sa-item{min-width:0;margin:0;padding:.6em 0;border-top:1px solid var(--sa-border,#e2e2e6)}
.sa-block .sa-link{display:block;color:inherit;text-decoration:none;font-weight:600}
.sa-block a.sa-link:hover,.sa-block a.sa-link:focus-visible{color:var(--sa-accent,#a3122a);text-decoration:underline}
.sa-block .sa-meta{margin-top:.25em;font-size:.8em;color:var(--sa-muted,#6b6b72)}
.sa-block .sa-source,.sa-block .sa-date{unicode-bidi:isolate}
.sa-block .sa-source{color:var(--sa-accent,#a3122a);font-weight:600}
.sa-block .sa-source+.sa-date::before{content:"·";margin:0 .45em;color:var(--sa-muted,#6b6b72)}
/*/sa-css*/`;

  function ownScript() {
    if (document.currentScript) return document.currentScript;
    const all = document.querySelectorAll('script[src*="widget.js"]');  // async fallback
    return all[all.length - 1] || null;
  }

  const me = ownScript();
  const BASE = new URL(".", me && me.src ? me.src : location.href).href;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function addStyle() {
    if (document.getElementById("sa-style")) return;
    const style = el("style", "", CSS);
    style.id = "sa-style";
    document.head.appendChild(style);
  }

  // On a tie, the value seen first (the better-ranked item's), as Counter.most_common in service/widget.py.
  function mostCommon(values) {
    const counts = new Map();
    values.filter(Boolean).forEach((v) => counts.set(v, (counts.get(v) || 0) + 1));
    let best = null;
    counts.forEach((n, v) => { if (best === null || n > counts.get(best)) best = v; });
    return best;
  }

  function ago(iso, lang) {
    const t = Date.parse(iso);
    if (isNaN(t)) return "";
    const s = Math.min(0, (t - Date.now()) / 1000);
    try {
      for (const [unit, size] of UNITS) {
        if (-s >= size) return new Intl.RelativeTimeFormat(lang, { numeric: "always" }).format(Math.trunc(s / size), unit);
      }
      return new Intl.RelativeTimeFormat(lang, { numeric: "auto" }).format(0, "second");
    } catch (e) {
      return iso.slice(0, 10);
    }
  }

  function fullDate(iso, lang) {
    try {
      return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
    } catch (e) {
      return iso;
    }
  }

  function renderItem(item, lang) {
    const li = el("li", "sa-item");
    const href = /^https?:\/\//i.test(item.url || "") ? item.url : null;
    const link = el(href ? "a" : "span", "sa-link", item.headline);
    if (href) link.href = href;
    link.dir = "auto";
    if (item.language) link.lang = item.language;
    const meta = el("div", "sa-meta");
    if (item.source) {
      const source = el("span", "sa-source", item.source);
      source.dir = "auto";  // isolated: bidi controls in it cannot reorder the date
      meta.appendChild(source);
    }
    const when = item.published_at ? ago(item.published_at, lang) : "";
    if (when) {
      const time = el("time", "sa-date", when);
      time.dateTime = item.published_at;
      time.title = fullDate(item.published_at, lang);
      meta.appendChild(time);
    }
    li.dataset.id = item.id;
    li.dataset.relation = item.relation || "";
    if (typeof item.score === "number") li.dataset.score = item.score.toFixed(3);
    li.append(link, meta);
    return li;
  }

  function list(items, lang) {
    const ol = el("ol", "sa-list");
    items.forEach((item) => ol.appendChild(renderItem(item, lang)));
    return ol;
  }

  function render(host, answer) {
    const items = answer && Array.isArray(answer.items) ? answer.items : [];
    if (!items.length) return drop(host, "empty");
    const d = host.dataset;
    // The same rule as block_language() in service/widget.py (the iframe page), then the page's language.
    const lang = d.lang || (answer.article && answer.article.language) ||
      mostCommon(items.map((i) => i.language)) || document.documentElement.lang || "en";
    const base = lang.split("-")[0].toLowerCase();
    const heading = d.title || TITLES[base] || TITLES.en;
    const found = items.filter((i) => !FILL_TITLES[i.relation]);
    const parts = found.length ? [el("h2", "sa-title", heading), list(found, lang)] : [];
    Object.keys(FILL_TITLES).forEach((relation) => {
      const extra = items.filter((i) => i.relation === relation);
      if (!extra.length) return;
      const titles = FILL_TITLES[relation];
      const title = (titles[base] || titles.en).replace("{section}", extra[0].section || "");
      parts.push(el(found.length ? "h3" : "h2", found.length ? "sa-subtitle" : "sa-title", title), list(extra, lang));
    });
    addStyle();
    host.classList.add("sa-block");
    if (d.theme === "dark") host.classList.add("sa-dark");
    host.lang = lang;
    host.dir = RTL.test(lang) ? "rtl" : "ltr";
    host.setAttribute("role", "region");
    host.setAttribute("aria-label", heading);
    host.replaceChildren(...parts);
    done(host, "ready", items);
  }

  function done(host, state, items) {
    host.setAttribute("data-sa-state", state);
    host.dispatchEvent(new CustomEvent("similar-articles", { bubbles: true, detail: { state: state, items: items || [] } }));
  }

  function drop(host, state) {
    try { done(host, state); } finally { host.remove(); }
  }

  function requestUrl(host) {
    const d = host.dataset;
    const base = d.api ? new URL(d.api.replace(/\/?$/, "/"), location.href).href : BASE;
    const path = d.articleId.split("/").map(encodeURIComponent).join("/");
    const url = new URL("v1/articles/" + path + "/similar", base);
    if (d.k) url.searchParams.set("k", d.k);
    if (d.profile) url.searchParams.set("profile", d.profile);
    if (d.fill) url.searchParams.set("fill", d.fill);
    if (!d.k && !d.profile) url.searchParams.set("k", "5");
    return url;
  }

  function load(host) {
    host.setAttribute("data-sa-state", "loading");
    try {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
      fetch(requestUrl(host), { signal: controller.signal, credentials: "omit" })
        .then((response) => { if (!response.ok) throw new Error(String(response.status)); return response.json(); })
        .then((answer) => { clearTimeout(timer); render(host, answer); })
        .catch(() => { clearTimeout(timer); drop(host, "failed"); });
    } catch (e) {
      drop(host, "failed");
    }
  }

  function scan(root) {
    (root || document).querySelectorAll("[data-similar-articles]:not([data-sa-state])").forEach(load);
  }

  window.SimilarArticles = { scan: scan };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => scan());
  else scan();
})();
