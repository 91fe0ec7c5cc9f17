// Account vault pages: reveal and copy secrets, clear the clipboard again,
// generate passwords, hint at password strength, suggest contacts, and leave
// the page once the vault's idle time has passed.
(function () {
  "use strict";

  var root = document.getElementById("vault");
  if (!root) { return; }
  var texts = JSON.parse(document.getElementById("vault-texts").textContent);
  var csrfToken = document.querySelector("meta[name=csrf-token]").content;

  var post = function (url, fields) {
    var body = new URLSearchParams(fields || {});
    return fetch(url, {
      method: "POST",
      body: body,
      headers: {
        "X-CSRFToken": csrfToken,
        "X-Requested-With": "fetch",
        "Accept": "application/json"
      }
    }).then(function (response) {
      return response.json().then(function (data) {
        if (data.locked) { window.location.assign(root.dataset.lockedUrl); }
        if (!response.ok) { throw new Error(data.error || response.statusText); }
        return data;
      });
    });
  };

  // --- idle lock ----------------------------------------------------------
  // The server drops the key after the idle time. Typing or clicking here
  // counts as use, so the page posts to the touch URL, at most every 20 s.
  var idleSeconds = parseInt(root.dataset.idleSeconds || "", 10);
  if (idleSeconds > 0) {
    var idleTimer = null;
    var lastTouch = Date.now();
    var restartIdle = function () {
      window.clearTimeout(idleTimer);
      idleTimer = window.setTimeout(function () {
        window.location.assign(root.dataset.lockedUrl);
      }, idleSeconds * 1000 + 1000);
    };
    var onActivity = function () {
      if (Date.now() - lastTouch < 20000) { return; }
      lastTouch = Date.now();
      post(root.dataset.touchUrl).then(restartIdle).catch(function () {});
    };
    ["keydown", "pointerdown", "input"].forEach(function (name) {
      document.addEventListener(name, onActivity, true);
    });
    restartIdle();
  }

  // --- reveal and copy ----------------------------------------------------
  var fetchSecret = function (row, field) {
    return post(row.dataset.revealUrl, { field: field }).then(function (data) {
      return data.value;
    });
  };

  var writeClipboard = function (value) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(value);
    }
    return Promise.reject(new Error("no clipboard"));
  };

  var clearLater = function (copied) {
    var seconds = parseFloat(root.dataset.clipboardSeconds) || 30;
    window.setTimeout(function () {
      // Read the clipboard where the browser allows it, so that anything the
      // user copied since is left alone. Where it cannot be read, clear it.
      var reading = navigator.clipboard && navigator.clipboard.readText ?
        navigator.clipboard.readText() : Promise.reject(new Error("unreadable"));
      reading.then(function (current) {
        if (current !== copied) {
          R9.notice(texts.left_alone);
          return null;
        }
        return writeClipboard("").then(function () { R9.notice(texts.cleared); });
      }, function () {
        return writeClipboard("").then(function () { R9.notice(texts.cleared); });
      }).catch(function () { R9.notice(texts.clear_failed, true); });
    }, seconds * 1000);
  };

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy], button[data-reveal]");
    if (!button) { return; }
    var row = button.closest("[data-reveal-url]");
    if (button.dataset.copy) {
      var field = button.dataset.copy;
      fetchSecret(row, field).then(function (value) {
        return writeClipboard(value).then(function () {
          var seconds = root.dataset.clipboardSeconds;
          R9.notice(texts.copied.replace("{seconds}", seconds));
          clearLater(value);
        }, function () { R9.notice(texts.copy_failed, true); });
      }).catch(function (error) { R9.notice(error.message, true); });
      return;
    }
    var target = row.querySelector("[data-secret='" + button.dataset.reveal + "']");
    if (button.dataset.shown) {
      target.textContent = button.dataset.masked;
      delete button.dataset.shown;
      button.textContent = texts.reveal;
      return;
    }
    fetchSecret(row, button.dataset.reveal).then(function (value) {
      button.dataset.masked = target.textContent;
      target.textContent = value;
      button.dataset.shown = "1";
      button.textContent = texts.hide;
    }).catch(function (error) { R9.notice(error.message, true); });
  });

  // --- password fields ----------------------------------------------------
  document.querySelectorAll("[data-toggle-visible]").forEach(function (button) {
    var input = document.getElementById(button.dataset.toggleVisible);
    var showLabel = button.textContent;
    button.addEventListener("click", function () {
      var hidden = input.type === "password";
      input.type = hidden ? "text" : "password";
      button.textContent = hidden ? texts.hide : showLabel;
    });
  });

  // A rough estimate: bits from the kinds of characters used, less for
  // repeats. Chinese characters count as a large alphabet.
  var strengthBits = function (value) {
    var pool = 0;
    if (/[a-z]/.test(value)) { pool += 26; }
    if (/[A-Z]/.test(value)) { pool += 26; }
    if (/[0-9]/.test(value)) { pool += 10; }
    if (/[^a-zA-Z0-9\u0080-\uffff]/.test(value)) { pool += 33; }
    if (/[\u0080-\uffff]/.test(value)) { pool += 2000; }
    var distinct = new Set(Array.from(value)).size;
    return Math.log2(Math.max(pool, 1)) * Math.min(Array.from(value).length, distinct * 2);
  };

  document.querySelectorAll("[data-strength]").forEach(function (input) {
    var hint = document.getElementById(input.dataset.strength);
    input.addEventListener("input", function () {
      if (!input.value) { return; }
      var bits = strengthBits(input.value);
      var level = Array.from(input.value).length < 8 || bits < 40 ? "weak" :
        (bits < 70 ? "fair" : "strong");
      hint.textContent = texts[level];
      hint.className = "help strength-" + level;
    });
  });

  document.querySelectorAll("[data-repeat-of]").forEach(function (input) {
    var first = document.getElementById(input.dataset.repeatOf);
    var hint = document.getElementById(input.getAttribute("aria-describedby"));
    var check = function () {
      var differs = input.value && input.value !== first.value;
      hint.textContent = differs ? texts.no_match : "";
    };
    input.addEventListener("input", check);
    first.addEventListener("input", check);
  });

  // --- entry form: generator and contact suggestions ----------------------
  var form = document.getElementById("vault-entry-form");
  if (!form) { return; }

  var runButton = document.getElementById("gen-run");
  runButton.addEventListener("click", function () {
    var fields = { length: document.getElementById("gen-length").value };
    ["lower", "upper", "digits", "symbols"].forEach(function (name) {
      if (document.getElementById("gen-" + name).checked) { fields[name] = "1"; }
    });
    if (document.getElementById("gen-avoid").checked) { fields.avoid_look_alike = "1"; }
    var message = document.getElementById("gen-message");
    post(form.dataset.generateUrl, fields).then(function (data) {
      var input = document.getElementById("vault-secret");
      input.value = data.password;
      input.type = "text";
      message.textContent = "";
    }).catch(function (error) { message.textContent = error.message; });
  });

  var contact = document.getElementById("vault-contact");
  var contactUuid = document.getElementById("vault-contact-uuid");
  var list = document.getElementById("vault-contact-suggestions");
  var uuidByLabel = {};
  var timer = null;
  var chooseTyped = function () {
    // A label picked from the suggestions names one contact; other text is
    // matched by the server's smart query when the form is saved.
    contactUuid.value = uuidByLabel[contact.value] || "";
  };
  var suggest = function () {
    var query = contact.value.trim();
    if (!query) { return; }
    fetch(form.dataset.suggestUrl + "?q=" + encodeURIComponent(query), {
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : { contacts: [] };
    }).then(function (data) {
      list.textContent = "";
      data.contacts.forEach(function (item) {
        uuidByLabel[item.label] = item.uuid;
        var option = document.createElement("option");
        option.value = item.label;
        list.appendChild(option);
      });
      chooseTyped();
    });
  };
  contact.addEventListener("input", function () {
    chooseTyped();
    window.clearTimeout(timer);
    timer = window.setTimeout(suggest, 200);
  });
})();
