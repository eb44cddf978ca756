"use strict";

(async () => {
  const s = await Cortex.settings();
  document.getElementById("url").value = s.url;
  document.getElementById("token").value = s.token;
  // Filled in: the form may be used (tests wait for this).
  document.getElementById("settings").dataset.loaded = "1";
  document.getElementById("settings").addEventListener("submit", async (e) => {
    e.preventDefault();
    const url = document.getElementById("url").value.trim().replace(/\/+$/, "");
    const token = document.getElementById("token").value.trim();
    await chrome.storage.local.set({ url, token });
    document.getElementById("saved").textContent = "Saved.";
  });
})();
