// itbench-eval view: filters apply on change; "live" reloads the page when results.jsonl changes.
"use strict";
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.form && target.form.classList.contains("filters")) {
    target.form.requestSubmit();
  }
});
(function follow() {
  const live = document.getElementById("live");
  const stamp = document.body.dataset.stamp;
  if (!live) return;
  live.checked = sessionStorage.getItem("itbench-live") !== "off";
  live.addEventListener("change", () => sessionStorage.setItem("itbench-live", live.checked ? "on" : "off"));
  setInterval(async () => {
    if (!live.checked || document.hidden) return;
    try {
      const reply = await fetch("/api/state", { cache: "no-store" });
      const state = await reply.json();
      if (state.stamp !== stamp) {
        sessionStorage.setItem("itbench-scroll", String(window.scrollY));
        location.reload();
      }
    } catch (error) {
      // the server stopped: keep the page as it is
    }
  }, 1500);
  const scroll = sessionStorage.getItem("itbench-scroll");
  if (scroll !== null) {
    sessionStorage.removeItem("itbench-scroll");
    window.scrollTo(0, Number(scroll));
  }
})();
