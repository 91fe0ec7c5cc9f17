// Import progress: poll the job until it finishes, then show the summary.
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box) { return; }

  function show(state) {
    box.querySelector(".running").hidden = state.state !== "running";
    box.querySelector(".done").hidden = state.state !== "done";
    box.querySelector(".failed").hidden = state.state !== "failed";
    document.getElementById("job-rows").textContent = state.progress;
    showPercent(state);
    if (state.state === "done" && state.result) {
      var heading = document.querySelector(".page-header h1");
      heading.textContent = R9.text("import_done");
      document.getElementById("job-message").textContent = state.result.message;
      var list = document.getElementById("job-reasons");
      list.replaceChildren();
      state.result.reasons.forEach(function (reason) {
        var item = document.createElement("li");
        item.textContent = reason;
        list.appendChild(item);
      });
      var link = document.getElementById("job-rejected");
      if (state.result.has_rejected_file) {
        link.href = link.getAttribute("data-href").replace("UUID", state.result.import_uuid);
        link.setAttribute("data-download", state.result.rejected_name);
        link.hidden = false;
      }
    }
    if (state.state === "failed") {
      document.getElementById("job-error").textContent = state.error;
    }
  }

  // The total is an estimate (blank rows, line breaks in cells), so the bar
  // stops at 99 % until the import reports that it is done.
  function showPercent(state) {
    var bar = document.getElementById("job-bar");
    var inner = bar.firstElementChild;
    if (!state.total) { return; }
    var percent = Math.min(99, Math.floor(100 * state.progress / state.total));
    inner.className = "";
    inner.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    document.getElementById("job-percent").textContent = "(" + percent + " %)";
  }

  function poll() {
    fetch(box.getAttribute("data-url"), {
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) { return response.json(); })
      .then(function (state) {
        show(state);
        if (state.state === "running") { window.setTimeout(poll, 400); }
      })
      .catch(function () { window.setTimeout(poll, 1500); });
  }

  if (box.getAttribute("data-state") === "running") { poll(); }
})();
