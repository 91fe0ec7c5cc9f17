// Sales pages: contact suggestions in the record form, and column menus
// that close when another opens or the user clicks elsewhere.
(function () {
  "use strict";

  var form = document.getElementById("sale-form");
  if (form) {
    var input = document.getElementById("sale-contact");
    var hidden = document.getElementById("sale-contact-uuid");
    var list = document.getElementById("sale-contact-suggestions");
    var url = form.getAttribute("data-suggest-url");
    var timer = null;
    var uuidByLabel = {};

    var chooseTyped = function () {
      // A label picked from the suggestions names one contact exactly;
      // anything else typed is matched on the server by phone, e-mail or name.
      hidden.value = uuidByLabel[input.value] || "";
    };

    var suggest = function () {
      var query = input.value.trim();
      if (query.length < 1) { return; }
      fetch(url + "?q=" + encodeURIComponent(query), {
        headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : { contacts: [] };
      }).then(function (data) {
        list.textContent = "";
        data.contacts.forEach(function (contact) {
          uuidByLabel[contact.label] = contact.uuid;
          var option = document.createElement("option");
          option.value = contact.label;
          list.appendChild(option);
        });
        chooseTyped();
      });
    };

    input.addEventListener("input", function () {
      chooseTyped();
      window.clearTimeout(timer);
      timer = window.setTimeout(suggest, 200);
    });
  }

  var menus = document.querySelectorAll("details.column-menu");
  menus.forEach(function (menu) {
    menu.addEventListener("toggle", function () {
      if (!menu.open) { return; }
      menus.forEach(function (other) {
        if (other !== menu) { other.open = false; }
      });
    });
  });
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) { menu.open = false; }
    });
  });
})();
