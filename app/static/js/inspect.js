/* 排查: send an inspection with its photos through the outbox (outbox.js, kind "inspection": one
   multipart request with the Idempotency-Key made once), so with no network it stays on the phone
   and is sent when the network is back; an abnormal one may open a case linked to the risk point.
   One the server refuses is listed as 被退回 and opens again in its point's form. */
(function () {
  'use strict';
  var S = GG.strings();
  var CATEGORIES = GG.strings('report-categories');
  var forms = {};

  function fields(form) {
    var data = new FormData(form);
    var body = {result: data.get('result'), notes: (data.get('notes') || '').trim()};
    if (body.result === 'abnormal' && form.elements.open_case.checked) {
      body.open_case = 'true';
      body.kind = data.get('kind');
      body.category = data.get('category');
      body.title = (data.get('title') || '').trim();
    }
    return body;
  }

  function photosOf(form) {
    var input = form.querySelector('input[type="file"]');
    return Array.prototype.slice.call((input && input.files) || [], 0, 10).map(function (f) {
      return {name: f.name, type: f.type, blob: f.slice(0, f.size, f.type)};
    });
  }

  document.querySelectorAll('form.inspect-form').forEach(function (form) {
    var openCase = form.querySelector('.open-case');
    var kind = form.querySelector('.case-kind');
    var category = form.querySelector('.case-category');
    var msg = form.querySelector('.result-msg');
    var summary = form.querySelector('.form-summary');
    var replaced = null, keptPhotos = [];
    /* A field by the API's name: the result is its fieldset; the description of the case an
       inspection opens is its notes. */
    function controlOf(name) {
      if (name === 'result') { return document.getElementById(form.id + '-result'); }
      return form.querySelector('[name="' + (name === 'description' ? 'notes' : name) + '"]');
    }
    function showErrors(errors, message) {
      GG.showErrors(form, errors, {control: controlOf, summary: summary, message: message || S.failed});
    }
    function fill() {
      category.textContent = '';
      (CATEGORIES[kind.value] || []).forEach(function (pair) {
        category.appendChild(GG.el('option', {value: pair[0]}, pair[1]));
      });
    }
    function toggle() { openCase.hidden = form.elements.result.value !== 'abnormal'; }
    kind.addEventListener('change', fill);
    fill();
    form.querySelectorAll('input[name="result"]').forEach(function (radio) {
      radio.addEventListener('change', toggle);
    });

    function done(body) {
      msg.className = 'result-msg';
      msg.textContent = '';
      msg.appendChild(document.createTextNode(S.saved + ' ' + (body.next_due || '') + ' '));
      if (body.case_number) {
        msg.appendChild(GG.el('a', {href: '/cases/' + encodeURIComponent(body.case_number)},
          S.case + ' ' + body.case_number));
      }
      form.reset();
      openCase.hidden = true;
    }

    /* Refused for sure: said at the field, nothing queued. */
    function missing(body) {
      var m = GG.messages(), required = [m.required], errors = {};
      if (!body.result) { errors.result = required; }
      if (body.open_case) {  // in the API's words (app/risks/schemas.InspectionIn)
        if (!body.title) { errors.title = [m.case_required || m.required]; }
        if (!body.notes) { errors.description = [m.case_notes || m.required]; }
      }
      return Object.keys(errors).length ? errors : null;
    }

    /* A refused inspection of this point, opened again: its values back in the form. */
    forms[form.dataset.point] = function (record) {
      var b = record.body || {};
      form.reset();
      form.querySelector('input[name="result"][value="' + (b.result || 'normal') + '"]').checked = true;
      toggle();
      form.elements.notes.value = b.notes || '';
      form.elements.open_case.checked = !!b.open_case;
      if (b.kind) { kind.value = b.kind; fill(); }
      if (b.category) { category.value = b.category; }
      form.elements.title.value = b.title || '';
      replaced = record.key;
      keptPhotos = record.photos || [];
      showErrors(record.errors || {}, record.message || record.error);
      form.scrollIntoView();
    };

    function direct(body) {
      // No outbox on this device (no IndexedDB): straight to the API, as before.
      var data = new FormData();
      Object.keys(body).forEach(function (k) { if (body[k]) { data.append(k, body[k]); } });
      photosOf(form).forEach(function (p) { data.append('photos', p.blob, p.name); });
      return fetch(form.dataset.url, {method: 'POST', credentials: 'same-origin', body: data,
        headers: {'Accept': 'application/json', 'X-CSRFToken': GG.csrfToken()}})
        .then(function (response) { return response.json().then(function (b) { return [response, b]; }); })
        .then(function (pair) {
          if (!pair[0].ok) {
            var errors = pair[1].errors || {};
            showErrors(Object.assign({}, errors.json || {}, errors.photos ? {photos: errors.photos} : {}),
                       pair[1].message);
            return;
          }
          done(pair[1]);
        }, function () { msg.textContent = S.offline; });
    }

    form.addEventListener('submit', function (e) {
      e.preventDefault();
      GG.clearErrors(form, summary);
      msg.textContent = '';
      var body = fields(form);
      var refused = missing(body);
      if (refused) { showErrors(refused); return; }
      var button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      if (!window.Outbox) {
        direct(body).then(function () { button.disabled = false; });
        return;
      }
      var photos = photosOf(form);
      var previous = replaced;
      window.Outbox.add(body, photos.length ? photos : (previous ? keptPhotos : []), 'inspection',
                        {target: form.dataset.point, label: form.dataset.code})
        .then(function (record) {
          button.disabled = false;
          if (previous) { window.Outbox.forget(previous); }
          replaced = null; keptPhotos = [];
          if (record && record.status === 'failed') {
            replaced = record.key; keptPhotos = record.photos || [];
            showErrors(record.errors || {}, record.message || record.error);
            return;
          }
          if (record && record.status === 'sent') {
            done({next_due: record.answer && record.answer.next_due, case_number: record.number});
            return;
          }
          msg.className = 'result-msg';
          msg.textContent = S.queued;
          form.reset();
          openCase.hidden = true;
        }, function (err) { button.disabled = false; showErrors({}, String(err)); });
    });
  });

  if (window.Outbox && window.Outbox.onOpen) {
    window.Outbox.onOpen(function (record) {
      var open = forms[record.target];
      if (open) { open(record); }
    }, S.reopen, 'inspection');
  }
})();
