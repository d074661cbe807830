/* Helpers every page script uses: the API with the session cookie and CSRF token, page strings,
   map helpers (visible box, colours) shared with the legends in maps/legends.py. */
(function () {
  'use strict';

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  /* Strings the page translated for its script: <script type="application/json" id="...">. */
  function strings(id) {
    var node = document.getElementById(id || 'page-strings');
    return node ? JSON.parse(node.textContent) : {};
  }

  /* Call our API; resolves to {status, ok, body} and rejects only when the network fails. */
  function api(method, url, body, headers) {
    var options = {
      method: method,
      credentials: 'same-origin',
      headers: Object.assign({'Accept': 'application/json'}, headers || {})
    };
    if (method !== 'GET') {
      options.headers['X-CSRFToken'] = csrfToken();
    }
    if (body !== undefined && body !== null) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        return {status: response.status, ok: response.ok, body: parsed};
      });
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  /* The map's visible box as the API's bbox parameter (at most 2 degrees a side). */
  function bbox(map) {
    var b = map.getBounds();
    var w = Math.max(b.getWest(), -180), s = Math.max(b.getSouth(), -90);
    var e = Math.min(b.getEast(), 180), n = Math.min(b.getNorth(), 90);
    var cx = (w + e) / 2, cy = (s + n) / 2;
    if (e - w > 1.99) { w = cx - 0.995; e = cx + 0.995; }
    if (n - s > 1.99) { s = cy - 0.995; n = cy + 0.995; }
    return [w, s, e, n].map(function (x) { return x.toFixed(5); }).join(',');
  }

  /* Wait for the map folium built (maps/base.py PageHandle) under its key. */
  function map(key) {
    return (window.GridGovMaps || {})[key] || null;
  }

  var colours = {
    risk: {red: '#d7191c', orange: '#f28e2b', yellow: '#e6c229', blue: '#2c7bb6'},
    score: [[15, '#b30000'], [8, '#e34a33'], [4, '#fdbb84'], [1, '#fee8c8'], [0, '#f7f7f7']],
    caseOpen: '#0b6e4f', caseYellow: '#e6c229', caseRed: '#d7191c', caseSettled: '#7b8794'
  };

  function scoreColour(score) {
    for (var i = 0; i < colours.score.length; i++) {
      if (score >= colours.score[i][0]) { return colours.score[i][1]; }
    }
    return colours.score[colours.score.length - 1][1];
  }

  function caseColour(props) {
    var open = ['reported', 'accepted', 'in_progress'].indexOf(props.state) >= 0;
    if (!open) { return colours.caseSettled; }
    if (props.warning === 'red') { return colours.caseRed; }
    if (props.warning === 'yellow') { return colours.caseYellow; }
    return colours.caseOpen;
  }

  /* A case marker's style, hollow and dashed when the case sits at its village's or cell's
     representative point (a ledger import: docs/imports.md). */
  function approximate(style, props) {
    if (!props || !props.location_approximate) { return style; }
    return Object.assign({}, style, {color: style.fillColor || style.color, dashArray: '3',
      fillOpacity: 0});
  }

  /* A DOM element with text content only (never HTML from data). */
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* --- field errors beside their fields ---------------------------------------------------
     The page renders app/web/forms.py's table (#form-messages: message patterns with their
     translations, the fields' display names, the sentences around them), so a script says the
     API's errors as the server-rendered forms do: in the page's language, by the field's label. */
  var table = null;
  function messages() {
    if (!table) { table = strings('form-messages'); }
    return table;
  }

  function fill(template, parts) {
    return String(template).replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(parts, key) ? parts[key] : all;
    });
  }

  /* One message in people's words (the API's marshmallow messages are English). */
  function say(text) {
    var m = messages();
    text = String(text);
    if (m.exact && Object.prototype.hasOwnProperty.call(m.exact, text)) { return m.exact[text]; }
    var patterns = m.patterns || [];
    for (var i = 0; i < patterns.length; i++) {
      var found = new RegExp(patterns[i][0]).exec(text);
      if (found) { return fill(patterns[i][1], found.groups || {}); }
    }
    return text;
  }

  /* errors.json as {dotted field name: [messages]}: "parties.0.id_number"; "_schema" is the
     name of what holds it ("" for the whole body). */
  function flatten(errors, prefix, out) {
    out = out || {};
    prefix = prefix || '';
    if (errors === null || errors === undefined) { return out; }
    if (typeof errors !== 'object') {
      (out[prefix] = out[prefix] || []).push(say(errors));
      return out;
    }
    if (Array.isArray(errors)) {
      errors.forEach(function (item) { flatten(item, prefix, out); });
      return out;
    }
    Object.keys(errors).forEach(function (key) {
      var name = key === '_schema' ? prefix : (prefix ? prefix + '.' + key : key);
      flatten(errors[key], name, out);
    });
    return out;
  }

  /* Forget the messages shown on a form. */
  function clearErrors(form, summary) {
    form.querySelectorAll('.field-error[data-script]').forEach(function (node) {
      var control = document.getElementById(node.dataset.for);
      if (control) {
        control.removeAttribute('aria-invalid');
        var rest = (control.getAttribute('aria-describedby') || '').split(' ')
          .filter(function (id) { return id && id !== node.id; });
        if (rest.length) { control.setAttribute('aria-describedby', rest.join(' ')); } else {
          control.removeAttribute('aria-describedby');
        }
      }
      node.remove();
    });
    if (summary) { summary.textContent = ''; summary.hidden = true; }
  }

  /* Show what the API (or the page's own check) said was wrong with a form: each field's
     message beside it (aria-invalid, described by the message), and the summary at the top
     naming each field, linking to it. What was typed stays.
       options.control(name) -> the control of a field name (default: the form's [name]);
       options.label(name) -> its display name (default: the page's table);
       options.summary: the element of the summary (role="alert");
       options.message: the API's message (said only when the fields do not say it all). */
  function showErrors(form, errors, options) {
    options = options || {};
    var m = messages();
    var summary = options.summary;
    clearErrors(form, summary);
    var fields = flatten(errors || {});
    var findControl = options.control || function (name) {
      return form.querySelector('[name="' + name.replace(/"/g, '') + '"]');
    };
    var labelOf = options.label || function (name) { return (m.labels || {})[name] || null; };
    var reasons = [];
    var unnamed = [];
    Object.keys(fields).forEach(function (name) {
      var text = fields[name].filter(function (t, i, all) { return all.indexOf(t) === i; })
        .join(m.and || '；');
      var label = name ? labelOf(name) : null;
      var control = name ? findControl(name) : null;
      if (control && control.type === 'radio') { control = control.closest('fieldset') || control; }
      if (!label) { unnamed.push(text); return; }
      var anchor = null;
      if (control) {
        if (!control.id) { control.id = (form.id || 'form') + '-' + name.replace(/[^A-Za-z0-9_-]/g, '-'); }
        var note = el('p', {'class': 'field-error', id: 'err-' + control.id, 'data-script': '',
                            'data-for': control.id}, text);
        var holder = control.tagName === 'FIELDSET' ? null : control.closest('label');
        if (holder) { holder.after(note); } else { control.appendChild(note); }
        control.setAttribute('aria-invalid', 'true');
        var described = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
        described.push(note.id);
        control.setAttribute('aria-describedby', described.join(' '));
        anchor = control.id;
      }
      reasons.push([fill(m.field, {field: label, problem: text}), anchor]);
    });
    unnamed.forEach(function (text) { reasons.push([text, null]); });
    if (!summary) { return reasons.length; }
    var message = options.message ? say(options.message) : '';
    if (message === m.generic && reasons.length) { message = ''; }
    var mark = '\u0000';
    var inner = reasons.length ? mark : message;
    if (reasons.length && message) { inner = fill(m.detailed, {message: message, details: mark}); }
    var sentence = m.lead ? fill(m.lead, {reason: inner}) : inner;
    var halves = sentence.split(mark);
    var p = el('p');
    p.appendChild(document.createTextNode(halves[0]));
    reasons.forEach(function (reason, index) {
      if (index) { p.appendChild(document.createTextNode(m.and || '；')); }
      if (reason[1]) {
        var link = el('a', {href: '#' + reason[1]}, reason[0]);
        link.addEventListener('click', function (e) {
          var target = document.getElementById(reason[1]);
          if (target) { e.preventDefault(); target.focus(); target.scrollIntoView({block: 'center'}); }
        });
        p.appendChild(link);
      } else {
        p.appendChild(document.createTextNode(reason[0]));
      }
    });
    if (halves.length > 1) { p.appendChild(document.createTextNode(halves[1])); }
    summary.appendChild(p);
    summary.hidden = false;
    if (!summary.hasAttribute('tabindex')) { summary.setAttribute('tabindex', '-1'); }
    summary.focus();
    return reasons.length;
  }

  /* The field errors as one sentence ("标题：必填；当事人 1：身份证号：…"), for lists. */
  function describeErrors(errors, labelOf) {
    var m = messages();
    var fields = flatten(errors || {});
    return Object.keys(fields).map(function (name) {
      var text = fields[name].join(m.and || '；');
      var label = name && labelOf ? labelOf(name) : (m.labels || {})[name];
      return label ? fill(m.field, {field: label, problem: text}) : text;
    }).join(m.and || '；');
  }

  window.GG = {
    api: api, csrfToken: csrfToken, strings: strings, debounce: debounce, bbox: bbox,
    map: map, colours: colours, scoreColour: scoreColour, caseColour: caseColour,
    approximate: approximate, el: el,
    say: say, fill: fill, flatten: flatten, messages: messages, showErrors: showErrors,
    clearErrors: clearErrors, describeErrors: describeErrors
  };
})();
