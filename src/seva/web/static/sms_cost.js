/* The console's message cost page (/console/sms/cost): counts the encoding, characters and
   SMS parts as the official types, by the same rules as seva/sms_text.py (measure, _chunks):
   GSM 7-bit when every character is in the GSM alphabet (an extension character such as the
   euro sign takes two septets), else UCS-2 (a character beyond the BMP takes two units); one
   part up to 160 septets or 70 units, else parts of 153 or 67, never cutting a two-unit
   character. The alphabet, the sizes and every word come from the page (data-* attributes
   the server filled from sms_text and the catalog); without this script the form counts when
   it is sent. */
(function () {
  "use strict";
  var form = document.getElementById("cost-form");
  if (!form) { return; }
  var data = form.dataset;
  var text = document.getElementById("cost-text");
  var recipients = document.getElementById("cost-recipients");
  var section = document.getElementById("cost");
  var basic = new Set(Array.from(data.gsm));
  var extension = new Set(Array.from(data.gsmExtension));
  var sizes = {
    gsm7: data.sizesGsm7.split(" ").map(Number),
    ucs2: data.sizesUcs2.split(" ").map(Number)
  };
  var names = { gsm7: data.nameGsm7, ucs2: data.nameUcs2 };
  var alphabets = { gsm7: data.alphabetGsm7, ucs2: data.alphabetUcs2 };
  var showOutside = Number(data.showOutside);
  var maxRecipients = Number(data.maxRecipients);
  var announce = null;

  function measure(value) {
    var chars = Array.from(value);  // code points, as Python counts them
    var encoding = chars.every(function (c) { return basic.has(c) || extension.has(c); })
      ? "gsm7" : "ucs2";
    var weights = chars.map(function (c) {
      if (encoding === "gsm7") { return extension.has(c) ? 2 : 1; }
      return c.codePointAt(0) > 0xFFFF ? 2 : 1;
    });
    var single = sizes[encoding][0];
    var part = sizes[encoding][1];
    var units = weights.reduce(function (sum, w) { return sum + w; }, 0);
    var parts = 1;
    if (units > single) {
      var used = 0;
      weights.forEach(function (w) {
        if (used + w > part) { parts += 1; used = 0; }
        used += w;
      });
    }
    var outside = [];
    if (encoding === "ucs2") {
      chars.forEach(function (c) {
        if (!basic.has(c) && !extension.has(c) && outside.indexOf(c) < 0) { outside.push(c); }
      });
      if (outside.length > showOutside) { outside = []; }
    }
    return { encoding: encoding, characters: chars.length, parts: parts, outside: outside };
  }

  function count() {
    var wanted = parseInt(recipients.value, 10);
    return Math.max(1, Math.min(isNaN(wanted) ? 1 : wanted, maxRecipients));
  }

  function fill(template, values) {
    return template.replace(/\{([a-z_]+)\}/g, function (whole, name) {
      return name in values ? String(values[name]) : whole;
    });
  }

  function setText(id, value) {
    var el = document.getElementById(id);
    value = String(value);
    if (el.textContent !== value) { el.textContent = value; }
  }

  function update(event) {
    var found = measure(text.value);
    var many = count();
    var figures = {
      encoding: names[found.encoding],
      characters: found.characters,
      parts: found.parts,
      recipients: many,
      total: found.parts * many
    };
    section.hidden = !text.value;
    setText("cost-encoding", alphabets[found.encoding]);
    document.getElementById("cost-encoding").dataset.encoding = found.encoding;
    setText("cost-characters", figures.characters);
    setText("cost-parts", figures.parts);
    setText("cost-recipients-count", figures.recipients);
    setText("cost-total", figures.total);
    document.getElementById("cost-outside").hidden = !found.outside.length;
    setText("cost-outside-chars", found.outside.join(" "));
    if (!event) { return; }  // the page as loaded already says it
    // Read out once typing pauses, not at every key.
    clearTimeout(announce);
    announce = setTimeout(function () {
      setText("cost-summary", text.value ? fill(data.summary, figures) : "");
    }, 700);
  }

  text.addEventListener("input", update);
  recipients.addEventListener("input", update);
  if (text.value) { update(); }
}());
