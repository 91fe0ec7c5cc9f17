// Contact list: expand and collapse cards in place, and edit them in place.
(function () {
  "use strict";
  var table = document.querySelector(".contacts-table");
  if (!table) { return; }

  function setExpanded(body, expanded) {
    var toggle = body.querySelector(".toggle");
    var card = body.querySelector(".card-row");
    toggle.setAttribute("aria-expanded", expanded ? "true" : "false");
    card.hidden = !expanded;
  }

  function showEditor(body, editing) {
    var form = body.querySelector(".card-edit");
    if (editing && !form) {
      // The form is fetched when first needed: rendering 50 hidden forms
      // made the list page several times slower.
      var slot = body.querySelector(".card-edit-slot");
      fetch(slot.getAttribute("data-url"), { headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          slot.innerHTML = html;
          showEditor(body, true);
        });
      return;
    }
    body.querySelector(".card-view").hidden = editing;
    if (form) { form.hidden = !editing; }
    if (editing) {
      var first = form.querySelector("input:not([type=hidden])");
      if (first) { first.focus(); }
    }
  }

  function showErrors(form, data) {
    var box = form.querySelector(".form-messages");
    box.replaceChildren();
    form.querySelectorAll(".field-error").forEach(function (node) { node.remove(); });
    form.querySelectorAll(".has-error").forEach(function (node) {
      node.classList.remove("has-error");
    });
    var message = document.createElement("p");
    message.className = "flash flash-error";
    message.textContent = data.error;
    box.appendChild(message);
    Object.keys(data.errors || {}).forEach(function (name) {
      var input = form.querySelector("[name='" + name + "']");
      if (!input) { return; }
      var line = document.createElement("p");
      line.className = "field-error";
      line.textContent = data.errors[name];
      input.parentElement.classList.add("has-error");
      input.parentElement.appendChild(line);
    });
    (data.duplicates || []).forEach(function (match) {
      var link = document.createElement("a");
      link.href = match.url;
      link.target = "_blank";
      link.textContent = match.name + (match.detail ? " (" + match.detail + ")" : "");
      message.append(" ", link);
    });
    if (data.duplicates && data.duplicates.length) {
      var again = document.createElement("button");
      again.type = "button";
      again.className = "button small save-anyway";
      again.textContent = R9.text("save_anyway");
      again.addEventListener("click", function () {
        var flag = document.createElement("input");
        flag.type = "hidden";
        flag.name = "allow_duplicate";
        flag.value = "1";
        form.appendChild(flag);
        save(form);
      });
      message.append(" ", again);
    }
  }

  function save(form) {
    var body = form.closest("tbody.contact");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return [response.ok, data]; });
    }).then(function (result) {
      button.disabled = false;
      if (result[1].conflict) {
        // Someone else saved the card: the full form shows both versions.
        form.submit();
        return;
      }
      if (!result[0]) { showErrors(form, result[1]); return; }
      var template = document.createElement("template");
      template.innerHTML = result[1].html.trim();
      var fresh = template.content.firstElementChild;
      body.replaceWith(fresh);
      R9.notice(result[1].message);
    }).catch(function () {
      button.disabled = false;
      form.submit();
    });
  }

  table.addEventListener("click", function (event) {
    var body = event.target.closest("tbody.contact");
    if (event.target.closest(".toggle") && body) {
      setExpanded(body, body.querySelector(".card-row").hidden);
    } else if (event.target.closest(".edit-inline") && body) {
      showEditor(body, true);
    } else if (event.target.closest(".cancel-inline") && body) {
      showEditor(body, false);
    } else if (event.target.closest(".toggle-all")) {
      var button = event.target.closest(".toggle-all");
      var expand = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", expand ? "true" : "false");
      table.querySelectorAll("tbody.contact").forEach(function (row) {
        setExpanded(row, expand);
      });
    }
  });

  table.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList.contains("card-edit")) {
      event.preventDefault();
      save(form);
    }
  });
})();
