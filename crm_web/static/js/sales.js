// Sales pages: column menus that close when another opens or the user
// clicks elsewhere, and the record form's amount, which follows quantity ×
// unit price until the user types an amount of their own. The contact
// field has its own script, contact_picker.js.
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

  // The same signs and number shapes that crm_web/services/money.py reads.
  var MARKS = /^(?:[A-Z]{3}|RMB|US\$|HK\$|[¥$€£₩₹])\s*|\s*(?:[A-Z]{3}|RMB|元|[¥$€£])$/g;
  var NUMBER = /^([1-9]\d{0,2}(?:,\d{3})+|\d+)?(?:\.(\d*))?$/;

  // Return {digits: BigInt, scale: n} for typed text, or null when it is
  // blank or not a number. Exact integers, because a float would round
  // 1000 × 0.035 differently from the server.
  function parseDecimal(raw) {
    var text = raw.normalize("NFKC").trim().replace(/。/g, ".").replace(/\s/g, "");
    var sign = "";
    if (/^[-−]/.test(text)) { sign = "-"; text = text.slice(1); }
    text = text.replace(MARKS, "").trim();
    if (!sign && /^[-−]/.test(text)) { sign = "-"; text = text.slice(1); }
    var match = NUMBER.exec(text);
    if (!text || !match || !(match[1] || match[2])) { return null; }
    var whole = (match[1] || "0").replace(/,/g, "");
    var fraction = match[2] || "";
    return { digits: BigInt(sign + whole + fraction), scale: fraction.length };
  }

  // Round value × 10^-scale half away from zero to `places` decimals.
  function rounded(value, scale, places) {
    if (scale <= places) { return value * 10n ** BigInt(places - scale); }
    var divisor = 10n ** BigInt(scale - places);
    var negative = value < 0n;
    var size = negative ? -value : value;
    var result = size / divisor;
    if ((size % divisor) * 2n >= divisor) { result += 1n; }
    return negative ? -result : result;
  }

  function plain(value, places) {
    var negative = value < 0n;
    var text = (negative ? -value : value).toString().padStart(places + 1, "0");
    var cut = text.length - places;
    var result = places ? text.slice(0, cut) + "." + text.slice(cut) : text;
    return (negative ? "-" : "") + result;
  }

  var form = document.getElementById("sale-form");
  if (!form) { return; }
  var quantity = form.querySelector("#sale-quantity");
  var price = form.querySelector("#sale-unit_price");
  var amount = form.querySelector("#sale-amount");
  var currency = form.querySelector("#sale-currency");
  var otherDigits = JSON.parse(form.dataset.currencyDigits || "{}");

  function places() {
    var code = currency.value.normalize("NFKC").trim().toUpperCase();
    return Object.prototype.hasOwnProperty.call(otherDigits, code) ? otherDigits[code] : 2;
  }

  // quantity × unit price in minor units, or null when either is blank or
  // not a number.
  function computed() {
    var q = parseDecimal(quantity.value);
    var p = parseDecimal(price.value);
    if (!q || !p) { return null; }
    return rounded(q.digits * p.digits, q.scale + p.scale, places());
  }

  function isComputed() {
    if (!amount.value.trim()) { return true; }
    var typed = parseDecimal(amount.value);
    var expected = computed();
    return typed !== null && expected !== null &&
      typed.scale <= places() && rounded(typed.digits, typed.scale, places()) === expected;
  }

  var follows = isComputed();
  amount.addEventListener("input", function () {
    follows = !amount.value.trim();
  });
  [quantity, price, currency].forEach(function (input) {
    input.addEventListener("input", function () {
      if (!follows) { return; }
      var value = computed();
      amount.value = value === null ? "" : plain(value, places());
    });
  });
})();
