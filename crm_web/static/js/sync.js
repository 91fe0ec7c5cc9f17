// Sync progress: poll the job, show the count, and reload the page when it
// ends, so the server renders the summary and the new history row.
(function () {
  "use strict";
  var box = document.getElementById("sync-job");
  if (!box || box.getAttribute("data-state") !== "running") { return; }

  function show(state) {
    var line = document.getElementById("sync-progress");
    var bar = document.getElementById("sync-bar");
    if (!state.total) { return; }
    line.textContent = line.getAttribute("data-counted")
      .replace("{done}", String(state.progress))
      .replace("{total}", String(state.total));
    var percent = Math.min(100, Math.floor(100 * state.progress / state.total));
    var inner = bar.firstElementChild;
    inner.className = "";
    inner.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
  }

  function poll() {
    fetch(box.getAttribute("data-url"), {
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) { return response.json(); })
      .then(function (state) {
        show(state);
        if (state.state === "running") {
          window.setTimeout(poll, 400);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 1500); });
  }

  poll();
})();
