// Autocomplete for the contact field of the sales, log and appointment
// forms (templates/_contact_picker.html). It sends the typed text to the
// server's smart query (pinyin, initials, phone digits), and fills the hidden
// contact_uuid when a suggestion is picked with the mouse or with the arrow
// keys and Enter. Typing clears that uuid, so the server matches the text.
// Nothing is asked while a Chinese input method is still composing: the
// query waits for compositionend. Without this script the field is a plain
// text input.
(function () {
  "use strict";

  if (window.r9ContactPicker) { return; }  // the macro may load it twice
  window.r9ContactPicker = true;

  var DELAY_MS = 150;
  var counter = 0;

  function setUp(root) {
    var input = root.querySelector("input[name=contact]");
    var hidden = root.querySelector("input[data-contact-uuid]");
    var list = root.querySelector(".contact-suggestions");
    var url = root.getAttribute("data-suggest-url");
    var noMatch = root.getAttribute("data-no-match");
    var contacts = [];
    var active = -1;
    var timer = null;
    var composing = false;
    var asked = 0;  // number of the latest request; older responses are dropped

    function close() {
      list.hidden = true;
      list.textContent = "";
      contacts = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (index >= 0 && options[index]) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var contact = contacts[index];
      if (!contact) { return; }
      input.value = contact.name;
      hidden.value = contact.uuid;
      close();
    }

    function show(found) {
      list.textContent = "";
      contacts = found;
      active = -1;
      if (!found.length) {
        var empty = document.createElement("li");
        empty.className = "contact-suggestion-empty";
        empty.textContent = noMatch;
        list.appendChild(empty);
      }
      found.forEach(function (contact, index) {
        var option = document.createElement("li");
        counter += 1;
        option.id = input.id + "-option-" + counter;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = contact.label;
        // mousedown, not click: it comes before the input's blur.
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(index);
        });
        list.appendChild(option);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function suggest() {
      var query = input.value.trim();
      if (!query) { close(); return; }
      asked += 1;
      var mine = asked;
      fetch(url + "?q=" + encodeURIComponent(query), {
        headers: { "Accept": "application/json", "X-Requested-With": "fetch" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.json() : { contacts: [] };
      }).then(function (data) {
        if (mine === asked && document.activeElement === input) {
          show(data.contacts || []);
        }
      }).catch(function () { close(); });
    }

    function typed() {
      hidden.value = "";
      window.clearTimeout(timer);
      timer = window.setTimeout(suggest, DELAY_MS);
    }

    input.addEventListener("compositionstart", function () { composing = true; });
    input.addEventListener("compositionend", function () {
      composing = false;
      typed();
    });
    input.addEventListener("input", function (event) {
      if (composing || event.isComposing) { return; }
      typed();
    });
    input.addEventListener("keydown", function (event) {
      // keyCode 229 is a key the input method is handling.
      if (composing || event.isComposing || event.keyCode === 229) { return; }
      var open = !list.hidden && contacts.length > 0;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open) { suggest(); return; }
        highlight((active + 1) % contacts.length);
      } else if (event.key === "ArrowUp") {
        if (!open) { return; }
        event.preventDefault();
        highlight(active <= 0 ? contacts.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (open && active >= 0) {
          event.preventDefault();  // pick the contact; do not submit yet
          choose(active);
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) {
          event.preventDefault();
          close();
        }
      }
    });
    input.addEventListener("blur", function () {
      window.setTimeout(close, 100);
    });
  }

  function start() {
    document.querySelectorAll("[data-contact-picker]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
