// Demo page: every value from the API is inserted as text, never as HTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  async function getJSON(url, options) {
    const response = await fetch(url, options);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    return body;
  }

  function safeUrl(url) {
    return /^https?:\/\//i.test(url || "") ? url : null;
  }

  function renderItems(items) {
    const list = $("similar");
    list.replaceChildren();
    for (const item of items) {
      const li = el("li");
      const href = safeUrl(item.url);
      const title = el(href ? "a" : "span", item.headline);
      if (href) { title.href = href; title.target = "_blank"; title.rel = "noopener"; }
      li.append(title, el("span", item.relation, "badge " + item.relation));
      const relatedness = item.relatedness === null || item.relatedness === undefined ? null : "relatedness " + item.relatedness.toFixed(2);
      li.append(el("div", [relatedness, "score " + item.score.toFixed(3), item.source, item.section, (item.published_at || "").slice(0, 10)]
        .filter(Boolean).join(" · "), "muted"));
      list.append(li);
    }
    if (!items.length) list.append(el("li", "—", "muted"));
  }

  // The similar list of a picked article is the embeddable block (widget.js), as a news page shows it.
  function choose(article) {
    $("chosen").textContent = article.headline;
    $("chosen-meta").textContent = [article.id, article.source, article.section, (article.published_at || "").slice(0, 10)].filter(Boolean).join(" · ");
    const block = el("div");
    block.setAttribute("data-similar-articles", "");
    block.dataset.articleId = article.id;
    block.dataset.k = "10";
    $("block").replaceChildren(block);
    $("block-note").hidden = true;
    $("similar").replaceChildren();
    window.SimilarArticles.scan($("block"));
  }

  // The block removes itself when there is nothing to show (or the service failed): say so here.
  $("block").addEventListener("similar-articles", (event) => { $("block-note").hidden = event.detail.state === "ready"; });

  async function search() {
    const answer = await getJSON("/v1/articles?limit=30&q=" + encodeURIComponent($("q").value));
    const list = $("articles");
    list.replaceChildren();
    for (const article of answer.items) {
      const li = el("li", article.headline);
      li.addEventListener("click", () => choose(article));
      list.append(li);
    }
    if (answer.items.length && $("chosen").textContent === "—") choose(answer.items[0]);
  }

  function showError(error) { $("health").textContent = "⚠ " + error.message; }

  let timer = null;
  $("q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => search().catch(showError), 200); });
  $("draft").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    $("chosen").textContent = form.get("headline");
    $("chosen-meta").textContent = "draft";
    $("block").replaceChildren();
    $("block-note").hidden = true;
    getJSON("/v1/similar", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ headline: form.get("headline"), body: form.get("body"), k: 10 }) })
      .then((answer) => renderItems(answer.items)).catch(showError);
  });
  getJSON("/healthz").then((h) => { $("health").textContent = h.articles + " articles · " + h.indexed + " indexed · " + h.model; }).catch(showError);
  search().catch(showError);
})();
