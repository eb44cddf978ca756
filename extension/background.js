// "Ask Cortex about the selection": pre-fills the popup's question with the selected text
// (a merchant's name on a CRM page asks for that merchant's brief).
"use strict";

const MENU_ID = "cortex-ask-selection";

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({
    id: MENU_ID,
    title: "Ask Cortex about the selection",
    contexts: ["selection"],
  });
});

/** The question a selection becomes. */
function questionFor(selection) {
  const text = selection.replace(/\s+/g, " ").trim().slice(0, 200);
  return `Give me the full picture of ${text}`;
}

chrome.contextMenus.onClicked.addListener(async (info) => {
  if (info.menuItemId !== MENU_ID || !info.selectionText) return;
  const question = questionFor(info.selectionText);
  await chrome.storage.session.set({ pendingQuestion: question });
  try {
    await chrome.action.openPopup();
  } catch (_) {
    // Browsers without openPopup from a menu: the popup in its own small window.
    chrome.windows.create({
      url: chrome.runtime.getURL(`popup.html?q=${encodeURIComponent(question)}`),
      type: "popup",
      width: 440,
      height: 640,
    });
  }
});
