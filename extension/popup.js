// The popup: ask box, the answer (as on the web page), and the last answers.
"use strict";

const HISTORY = 5;
const $ = (id) => document.getElementById(id);

function openLink(url) {
  if (chrome.tabs && chrome.tabs.create) chrome.tabs.create({ url });
  else window.open(url, "_blank", "noopener");
}

async function showHistory() {
  const { history = [] } = await chrome.storage.local.get("history");
  const list = $("history");
  list.replaceChildren(
    ...history.map((h) => {
      const a = Cortex.el("a", { href: h.permalink }, h.question);
      a.addEventListener("click", (e) => {
        e.preventDefault();
        openLink(h.permalink);
      });
      return Cortex.el("li", {}, a, Cortex.el("span", { class: "muted" }, ` · ${h.headline}`));
    })
  );
  $("recent").hidden = history.length === 0;
}

async function remember(res) {
  const { history = [] } = await chrome.storage.local.get("history");
  const entry = { id: res.id, question: res.answer.question, headline: res.answer.headline, permalink: res.permalink };
  await chrome.storage.local.set({ history: [entry, ...history.filter((h) => h.id !== res.id)].slice(0, HISTORY) });
}

async function ask(question) {
  $("status").textContent = "Working on it…";
  $("status").classList.remove("error");
  $("go").disabled = true;
  try {
    const { conversation } = await chrome.storage.session.get("conversation");
    const res = await Cortex.api("/ask", conversation ? { question, conversation } : { question });
    await chrome.storage.session.set({ conversation: res.conversation });
    $("answer").replaceChildren(Cortex.render(res, openLink));
    $("status").textContent = "";
    await remember(res);
    await showHistory();
  } catch (e) {
    $("status").textContent = e.message;
    $("status").classList.add("error");
  } finally {
    $("go").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("ask").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("q").value.trim();
    if (q) ask(q);
  });
  $("options").addEventListener("click", (e) => {
    e.preventDefault();
    chrome.runtime.openOptionsPage();
  });
  // A question from the context menu (or ?q= when opened in its own window).
  const fromUrl = new URLSearchParams(location.search).get("q");
  const { pendingQuestion } = await chrome.storage.session.get("pendingQuestion");
  const prefill = fromUrl || pendingQuestion;
  if (prefill) {
    $("q").value = prefill;
    await chrome.storage.session.remove("pendingQuestion");
  }
  await showHistory();
});
