/* 排查: send an inspection with its photos (multipart) to the API; an abnormal one may open a
   case linked to the risk point. */
(function () {
  'use strict';
  var S = GG.strings();
  var CATEGORIES = GG.strings('report-categories');
  document.querySelectorAll('form.inspect-form').forEach(function (form) {
    var openCase = form.querySelector('.open-case');
    var kind = form.querySelector('.case-kind');
    var category = form.querySelector('.case-category');
    var msg = form.querySelector('.result-msg');
    var summary = form.querySelector('.form-summary');
    /* A field by the API's name: the result is its fieldset; the description of the case an
       inspection opens is its notes. */
    function controlOf(name) {
      if (name === 'result') { return document.getElementById(form.id + '-result'); }
      return form.querySelector('[name="' + (name === 'description' ? 'notes' : name) + '"]');
    }
    function fill() {
      category.textContent = '';
      (CATEGORIES[kind.value] || []).forEach(function (pair) {
        category.appendChild(GG.el('option', {value: pair[0]}, pair[1]));
      });
    }
    kind.addEventListener('change', fill);
    fill();
    form.querySelectorAll('input[name="result"]').forEach(function (radio) {
      radio.addEventListener('change', function () {
        openCase.hidden = form.elements.result.value !== 'abnormal';
      });
    });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      GG.clearErrors(form, summary);
      msg.textContent = '';
      var data = new FormData(form);
      if (form.elements.result.value !== 'abnormal' || !form.elements.open_case.checked) {
        ['open_case', 'kind', 'category', 'title'].forEach(function (k) { data.delete(k); });
      }
      data.append('csrf_token', GG.csrfToken());
      var button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      fetch(form.dataset.url, {method: 'POST', credentials: 'same-origin', body: data,
        headers: {'Accept': 'application/json', 'X-CSRFToken': GG.csrfToken()}})
        .then(function (response) { return response.json().then(function (b) { return [response, b]; }); })
        .then(function (pair) {
          button.disabled = false;
          var response = pair[0], body = pair[1];
          msg.textContent = '';
          if (!response.ok) {
            // Each field's message beside it; what was typed stays.
            var errors = body.errors || {};
            var fields = Object.assign({}, errors.json || {}, errors.photos ? {photos: errors.photos} : {});
            GG.showErrors(form, fields,
                          {control: controlOf, summary: summary, message: body.message || S.failed});
            return;
          }
          msg.className = 'result-msg';
          msg.appendChild(document.createTextNode(S.saved + ' ' + (body.next_due || '') + ' '));
          if (body.case_number) {
            msg.appendChild(GG.el('a', {href: '/cases/' + encodeURIComponent(body.case_number)},
              S.case + ' ' + body.case_number));
          }
          form.reset();
          openCase.hidden = true;
        }, function () { button.disabled = false; msg.textContent = S.offline; });
    });
  });
})();
