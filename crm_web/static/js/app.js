// Behaviour shared by every page: language switch, confirmations, and
// downloads inside the desktop window.
(function () {
  "use strict";

  document.querySelectorAll("[data-autosubmit]").forEach(function (field) {
    field.addEventListener("change", function () { field.form.requestSubmit(); });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  // Sharing: ticking a user chooses "only these users", and choosing
  // private or everyone clears the ticks, so what is posted is what shows.
  document.addEventListener("change", function (event) {
    var choice = event.target.closest(".share-choice");
    if (!choice) { return; }
    if (event.target.name === "user" && event.target.checked) {
      choice.querySelector("input[name=share][value=users]").checked = true;
    } else if (event.target.name === "share" && event.target.value !== "users") {
      choice.querySelectorAll("input[name=user]").forEach(function (box) {
        box.checked = false;
      });
    }
  });

  // In the pywebview window a plain download link may do nothing, so links
  // marked data-download go through the window's native save dialog.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-download]");
    if (!link || !window.pywebview || !window.pywebview.api ||
        !window.pywebview.api.save_download) {
      return;
    }
    event.preventDefault();
    window.pywebview.api.save_download(link.href, link.getAttribute("data-download"))
      .then(function (path) {
        if (path) { R9.notice(R9.text("saved") + " " + path); }
      });
  });

  // The same for GET forms that produce a file (the export form).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-download") || event.defaultPrevented ||
        !window.pywebview || !window.pywebview.api ||
        !window.pywebview.api.save_download) {
      return;
    }
    event.preventDefault();
    var query = new URLSearchParams(new FormData(form)).toString();
    var url = new URL(form.action, window.location.href).href + "?" + query;
    var format = new FormData(form).get("format") || "";
    var name = form.getAttribute("data-download") + (format ? "." + format : "");
    window.pywebview.api.save_download(url, name).then(function (path) {
      if (path) { R9.notice(R9.text("saved") + " " + path); }
    });
  });

  window.R9 = {
    text: function (key) {
      var holder = document.getElementById("r9-texts");
      var texts = holder ? JSON.parse(holder.textContent) : {};
      return texts[key] || key;
    },
    notice: function (message, isError) {
      var box = document.querySelector(".flashes");
      if (!box) {
        box = document.createElement("div");
        box.className = "flashes";
        box.setAttribute("role", "status");
        document.querySelector(".content").prepend(box);
      }
      var line = document.createElement("p");
      line.className = "flash " + (isError ? "flash-error" : "flash-ok");
      line.textContent = message;
      box.replaceChildren(line);
    }
  };
})();
