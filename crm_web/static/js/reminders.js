// Appointment reminders on every page: polls the server for due reminders
// and shows each occurrence in the page until the user dismisses it.
// Dismissals live in localStorage, keyed by occurrence, so a dismissed
// reminder stays hidden on every page and after a restart. Each occurrence
// also raises one native notification per session: through the desktop
// window's API (window.pywebview.api.notify) in the window, and in a browser
// only when the user has already granted permission.
(function () {
  "use strict";

  var POLL_MS = 45000;
  var DISMISSED_KEY = "r9.reminders.dismissed";
  var NOTIFIED_KEY = "r9.reminders.notified";
  // Dismissals older than this are dropped, because their occurrences are over.
  var KEEP_MS = 30 * 24 * 3600 * 1000;

  var script = document.currentScript;
  var url = (script && script.getAttribute("data-url")) ||
    "/appointments/reminders.json";
  if (!window.fetch) { return; }

  function load(storage, key) {
    try {
      return JSON.parse(storage.getItem(key)) || {};
    } catch (error) {
      return {};
    }
  }

  function save(storage, key, value) {
    try {
      storage.setItem(key, JSON.stringify(value));
    } catch (error) {
      // If storage is full or disabled, the reminder may show again.
    }
  }

  function dismiss(key) {
    var dismissed = load(window.localStorage, DISMISSED_KEY);
    var now = Date.now();
    Object.keys(dismissed).forEach(function (old) {
      if (now - dismissed[old] > KEEP_MS) { delete dismissed[old]; }
    });
    dismissed[key] = now;
    save(window.localStorage, DISMISSED_KEY, dismissed);
  }

  function container() {
    var box = document.getElementById("reminders");
    if (!box) {
      box = document.createElement("div");
      box.id = "reminders";
      box.className = "reminders";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }

  function isShown(key) {
    var notices = container().querySelectorAll(".reminder");
    for (var i = 0; i < notices.length; i++) {
      if (notices[i].getAttribute("data-key") === key) { return true; }
    }
    return false;
  }

  function show(reminder, texts) {
    if (isShown(reminder.key)) { return; }
    var notice = document.createElement("div");
    notice.className = "reminder";
    notice.setAttribute("data-key", reminder.key);

    var title = document.createElement("a");
    title.className = "reminder-title";
    title.href = reminder.url;
    title.textContent = texts.reminder + ": " + reminder.title;

    var when = document.createElement("span");
    when.className = "reminder-when";
    when.textContent = reminder.when +
      (reminder.location ? " · " + reminder.location : "");

    var button = document.createElement("button");
    button.type = "button";
    button.className = "button small secondary";
    button.textContent = texts.dismiss;
    button.addEventListener("click", function () {
      dismiss(reminder.key);
      notice.remove();
    });

    notice.append(title, when, button);
    container().appendChild(notice);
  }

  function windowApi() {
    var api = window.pywebview && window.pywebview.api;
    return api && api.notify ? api : null;
  }

  function notify(reminder, texts) {
    var api = windowApi();
    var browserAllows = "Notification" in window &&
      Notification.permission === "granted";
    if (!api && !browserAllows) { return; }
    // Once per occurrence per session, not on every page the user opens.
    var notified = load(window.sessionStorage, NOTIFIED_KEY);
    if (notified[reminder.key]) { return; }
    notified[reminder.key] = Date.now();
    save(window.sessionStorage, NOTIFIED_KEY, notified);
    var title = texts.reminder + ": " + reminder.title;
    var body = reminder.when + (reminder.location ? " · " + reminder.location : "");
    if (api) {
      // The window logs it when the system has no notification service.
      api.notify(title, body).catch(function () {});
      return;
    }
    try {
      new Notification(title, { body: body, tag: reminder.key });
    } catch (error) {
      // Some embedded browsers expose Notification but refuse to construct it.
    }
  }

  function poll() {
    fetch(url, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      if (!body) { return; }
      var dismissed = load(window.localStorage, DISMISSED_KEY);
      body.reminders.forEach(function (reminder) {
        if (dismissed[reminder.key]) { return; }
        show(reminder, body.texts);
        notify(reminder, body.texts);
      });
    }).catch(function () {
      // The server may be busy or closing with the window, so the next poll
      // tries again.
    });
  }

  poll();
  window.setInterval(poll, POLL_MS);
  // The window's API arrives after the first poll may have run, so poll
  // again then rather than wait a whole interval for the notification.
  window.addEventListener("pywebviewready", poll);
})();
