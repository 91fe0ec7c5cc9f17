// Sales pages: column menus that close when another opens or the user
// clicks elsewhere. The contact field has its own script, contact_picker.js.
(function () {
  "use strict";

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
