/* 回访 on the case page with no network (the page opened from the service worker's copy): the
   action goes to the outbox (outbox.js, kind "follow_up"), to be sent to
   POST /api/v1/cases/<number>/actions/follow_up with the version the page showed and an
   Idempotency-Key made once, when the network is back. Refused (被退回), it opens again in this
   form to be corrected and sent again. Online (or without an outbox) the form posts as always. */
(function () {
  'use strict';
  var S = GG.strings();
  var details = document.getElementById('action-follow_up');
  var form = details && details.querySelector('form');
  if (!form || !window.Outbox) { return; }
  var number = form.dataset.case;
  var note = document.createElement('p');
  note.className = 'result-msg';
  note.setAttribute('role', 'status');
  form.appendChild(note);
  var replaced = null;

  function say(text, bad) {
    note.className = 'result-msg' + (bad ? ' error' : '');
    note.textContent = text || '';
  }

  function reasons(record) {
    var fields = GG.flatten(record.errors || {});
    var parts = Object.keys(fields).map(function (name) { return name + '：' + fields[name].join('；'); });
    return [GG.say(record.message || record.error || '')].concat(parts).filter(Boolean).join(' — ');
  }

  window.Outbox.onOpen(function (record) {
    if (record.target !== number) {
      window.location.href = '/cases/' + encodeURIComponent(record.target) + '#outbox-h';
      return;
    }
    var b = record.body || {};
    details.open = true;
    ['method', 'satisfaction', 'note'].forEach(function (name) {
      if (form.elements[name]) { form.elements[name].value = b[name] || ''; }
    });
    replaced = record.key;
    say(S.refused + '：' + reasons(record), true);
    form.scrollIntoView();
  }, S.reopen, 'follow_up');

  form.addEventListener('submit', function (e) {
    // Online, the form posts as always (the page answers: done, or what was wrong, or that
    // someone else changed the case); a refused copy it corrects leaves the outbox first.
    if (navigator.onLine) {
      if (replaced) {
        e.preventDefault();
        var key = replaced;
        replaced = null;
        window.Outbox.forget(key).then(function () { form.submit(); });
      }
      return;
    }
    e.preventDefault();
    var body = {method: form.elements.method.value, satisfaction: form.elements.satisfaction.value,
                version: Number(form.elements.version.value)};
    var text = (form.elements.note && form.elements.note.value || '').trim();
    if (text) { body.note = text; }
    var button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    var previous = replaced;
    window.Outbox.add(body, [], 'follow_up', {target: number, label: number}).then(function (record) {
      button.disabled = false;
      if (previous) { window.Outbox.forget(previous); }
      replaced = null;
      if (record && record.status === 'failed') {
        replaced = record.key;
        say(S.refused + '：' + reasons(record), true);
        return;
      }
      if (record && record.status === 'sent') { window.location.reload(); return; }
      say(S.queued);
    }, function (err) { button.disabled = false; say(String(err), true); });
  });
})();
