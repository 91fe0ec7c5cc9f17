// The file upload forms: several files at once, drag and drop, a size check
// before sending, progress, and the desktop window's own file dialog.
// Without this script the form still posts its files the plain way.
(function () {
  "use strict";

  function fill(template, name) {
    return template.split("{file}").join(name);
  }

  function show(form, message, isError) {
    form.querySelector(".upload-status").textContent = isError ? "" : message;
    if (isError) { R9.notice(message, true); }
  }

  function finish(form, status, body) {
    var result = {};
    try { result = JSON.parse(body); } catch (ignored) { result = {}; }
    if (status < 400 && result.next) {
      window.location.assign(result.next);
      return;
    }
    form.classList.remove("busy");
    show(form, result.error || form.getAttribute("data-failed"), true);
  }

  function send(form, files) {
    if (form.classList.contains("busy")) { return; }
    if (!files.length) { show(form, form.getAttribute("data-none"), true); return; }
    var limit = Number(form.getAttribute("data-max-bytes"));
    var tooLarge = files.filter(function (file) { return file.size > limit; });
    if (tooLarge.length) {
      var template = form.getAttribute("data-too-large");
      show(form, tooLarge.map(function (file) { return fill(template, file.name); }).join(" "), true);
      return;
    }
    var total = files.reduce(function (sum, file) { return sum + file.size; }, 0);
    if (total > Number(form.getAttribute("data-request-max-bytes"))) {
      show(form, form.getAttribute("data-request-too-large"), true);
      return;
    }
    var data = new FormData(form);
    data.delete("file");
    files.forEach(function (file) { data.append("file", file, file.name); });
    post(form, form.action, data, true);
  }

  function post(form, url, data, withProgress) {
    form.classList.add("busy");
    var sending = form.getAttribute("data-sending");
    show(form, sending, false);
    var request = new XMLHttpRequest();
    request.open("POST", url);
    request.setRequestHeader("X-Requested-With", "fetch");
    request.setRequestHeader("Accept", "application/json");
    if (withProgress) {
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          show(form, sending + " " + Math.floor(100 * event.loaded / event.total) + " %", false);
        }
      });
    }
    request.addEventListener("load", function () {
      finish(form, request.status, request.responseText);
    });
    request.addEventListener("error", function () { finish(form, 0, ""); });
    request.send(data);
  }

  function chooseNatively(form) {
    window.pywebview.api.open_files_dialog([]).then(function (paths) {
      if (!paths || !paths.length) { return; }
      var data = new FormData(form);
      data.delete("file");
      paths.forEach(function (path) { data.append("path", path); });
      post(form, form.getAttribute("data-local-url"), data, false);
    });
  }

  function hasNativeDialog() {
    return Boolean(window.pywebview && window.pywebview.api &&
                   window.pywebview.api.open_files_dialog);
  }

  function setUp(form) {
    if (form.hasAttribute("data-ready")) { return; }
    form.setAttribute("data-ready", "");
    var input = form.querySelector("input[type=file]");
    var zone = form.querySelector(".drop-zone");
    var native = form.querySelector(".native-choose");

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(form, Array.prototype.slice.call(input.files));
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      send(form, Array.prototype.slice.call(event.dataTransfer.files));
    });

    function offerNative() { native.hidden = !hasNativeDialog(); }
    offerNative();
    window.addEventListener("pywebviewready", offerNative);
    native.addEventListener("click", function () { chooseNatively(form); });
  }

  document.querySelectorAll("form.file-upload").forEach(setUp);
})();
