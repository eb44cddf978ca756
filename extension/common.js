// Shared by the popup and the options page: settings, the API client (only /api/v1), and
// the answer renderer (the web page's sections, built with DOM nodes, never HTML strings).
"use strict";

const Cortex = (() => {
  /** The Cortex URL and token: chrome.storage, else the URL the package was built for. */
  async function settings() {
    const stored = await chrome.storage.local.get(["url", "token"]);
    let url = stored.url;
    if (!url) {
      try {
        url = (await (await fetch(chrome.runtime.getURL("config.json"))).json()).url;
      } catch (_) {
        url = "";
      }
    }
    return { url: (url || "").replace(/\/+$/, ""), token: stored.token || "" };
  }

  /** Calls `/api/v1{path}`; resolves to the JSON body, rejects with the API's message. */
  async function api(path, body) {
    const s = await settings();
    if (!s.url || !s.token) {
      throw new Error("Set the Cortex URL and your API token in the extension's settings.");
    }
    const res = await fetch(`${s.url}/api/v1${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        Authorization: `Bearer ${s.token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try {
      json = await res.json();
    } catch (_) {
      /* not JSON */
    }
    if (!res.ok) {
      const msg = json && json.error ? `${json.error.message} (${json.error.code})` : `HTTP ${res.status}`;
      throw new Error(msg);
    }
    return json;
  }

  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") n.className = v;
      else n.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      n.append(c instanceof Node ? c : String(c));
    }
    return n;
  }

  /** A number as people read it, by unit (the JSON carries raw values). */
  function formatValue(v, unit) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return String(v);
    const compact = (x) =>
      Math.abs(x) >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : Math.abs(x) >= 1e4 ? `${(x / 1e3).toFixed(1)}K` : x.toLocaleString("en-US", { maximumFractionDigits: 2 });
    switch (unit) {
      case "usd": return `$${compact(v)}`;
      case "ratio": return `${(v * 100).toFixed(1)}%`;
      case "percent": return `${v.toFixed(1)}%`;
      case "minutes": return `${compact(v)} min`;
      case "hours": return `${compact(v)} h`;
      case "days": return `${compact(v)} d`;
      case "seconds": return `${compact(v)} s`;
      default: return compact(v);
    }
  }

  function unitOf(role) {
    return role && role.kind === "metric" ? role.unit : null;
  }

  function table(columns, rows, totalRow) {
    const head = el("tr", {}, ...columns.map((c) => el("th", {}, c.label || c.name)));
    const body = rows.map((r, i) =>
      el(
        "tr",
        totalRow && i === rows.length - 1 ? { class: "total" } : {},
        ...r.map((v, j) => {
          const unit = unitOf(columns[j] && columns[j].role);
          return el("td", typeof v === "number" ? { class: "num" } : {}, unit ? formatValue(v, unit) : formatValue(v, null));
        })
      )
    );
    return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
  }

  /** One section of an answer, as on the web page. */
  function section(s) {
    switch (s.type) {
      case "kpis":
        return el("div", { class: "kpis" }, ...s.tiles.map((t) =>
          el("div", { class: "kpi" }, el("div", { class: "label muted" }, t.label), el("div", { class: "value" }, formatValue(t.value, t.unit)), t.detail ? el("div", { class: "muted" }, t.detail) : null)));
      case "facts":
        return el("section", {}, el("h3", {}, s.title), el("dl", {}, ...s.facts.flatMap((f) => [el("dt", {}, f.label), el("dd", {}, f.value)])));
      case "table":
        if (!s.rows.length) return el("section", {}, s.title ? el("h3", {}, s.title) : null, el("p", { class: "muted" }, s.empty || "No rows."));
        return el("section", { class: "table" }, s.title ? el("h3", {}, s.title) : null, table(s.columns, s.rows, s.total_row));
      case "chart": {
        const cols = [{ name: s.category_label, label: s.category_label }, ...s.series.map((x) => ({ name: x.name, label: x.name, role: { kind: "metric", unit: s.unit } }))];
        const rows = s.categories.map((c, i) => [c, ...s.series.map((x) => x.values[i])]);
        return el("section", { class: "chart" }, el("h3", {}, s.title), table(cols, rows, false));
      }
      case "okr":
        return el("section", { class: "okr" }, el("h3", {}, s.title),
          el("p", {}, `${s.metric_label}: ${formatValue(s.current, s.unit)} of ${formatValue(s.target, s.unit)}` +
            (s.projected !== null && s.projected !== undefined ? `, heading for ${formatValue(s.projected, s.unit)}` : "") +
            (s.on_track === true ? " (on pace)" : s.on_track === false ? " (behind pace)" : "")));
      case "notes":
        if (!s.items.length) return s.empty ? el("section", {}, el("h3", {}, s.title), el("p", { class: "muted" }, s.empty)) : null;
        return el("section", { class: `notes ${s.kind}` }, el("h3", {}, s.title), el("ul", {}, ...s.items.map((i) => el("li", {}, i))));
      default:
        return null;
    }
  }

  /** The whole answer: title, headline, sections, provenance and the permalink. */
  function render(res, openLink) {
    const a = res.answer;
    const root = el("article", { class: "answer", "data-answer-id": res.id, "data-status": a.status });
    if (a.title) root.append(el("h2", {}, a.title));
    root.append(el("p", { class: "headline" }, a.headline || a.text));
    if (a.narrative) root.append(el("p", {}, a.narrative));
    for (const s of a.sections || []) {
      const n = section(s);
      if (n) root.append(n);
    }
    if (a.choices && a.choices.length) {
      root.append(el("ul", { class: "choices" }, ...a.choices.map((c, i) => el("li", {}, (a.choice_labels || [])[i] || c))));
    }
    const p = a.provenance || {};
    const metrics = (p.metrics || []).map((m) => `${m.label} (${m.owner})`).join(", ");
    const prov = el("p", { class: "provenance" },
      metrics ? `From: ${metrics}. ` : "",
      p.period ? `Period: ${p.period}. ` : "",
      p.data_freshness ? `Data to ${p.data_freshness}. ` : "");
    root.append(prov);
    const link = el("a", { href: res.permalink, class: "permalink" }, "Open the full answer");
    link.addEventListener("click", (e) => {
      e.preventDefault();
      openLink(res.permalink);
    });
    root.append(el("p", {}, link));
    return root;
  }

  return { settings, api, render, formatValue, el };
})();
