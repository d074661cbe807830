/* The outbox: reports kept on this device until the server has them (poor connections).

   Each report is stored in IndexedDB with the Idempotency-Key made once, when it was first
   submitted, and its photos. It is sent at once, again when the network comes back (`online`),
   every 30 seconds and on every page load; the server turns any number of retries with the same
   key into exactly one case. A report leaves the outbox only after a 2xx (its photos uploaded)
   or a definitive 4xx, whose reason stays shown until the user deletes it (on the report page it
   can be opened again: its fields back in the form, each message beside its field).
   Visits (走访, /field/visits/new), inspections (排查, sent as one multipart request with their
   photos) and follow-ups (回访, a case action) go through the same outbox: a record's `kind` says
   where it is sent (KINDS), its `target` which risk point or case; a page's list shows the
   records of its own kind (data-kind). A refused record is shown as 被退回 with the server's
   message; the page of its kind opens it again in its form (onOpen) to edit and send again, and
   deleting it asks first: what was typed is never lost by one tap (docs/field.md). */
(function () {
  'use strict';
  var DB = 'gridgov-outbox', STORE = 'reports', RETRY_MS = 30000;
  var S = JSON.parse((document.getElementById('outbox-strings') || {}).textContent || '{}');
  var listeners = [], busy = false, dbPromise = null, openers = {};
  /* Where each kind of record goes, which answer field identifies it, and what the list shows. */
  var KINDS = {
    'case': {post: '/api/v1/cases', ref: 'number',
             photos: function (r) { return '/api/v1/cases/' + encodeURIComponent(r.number) + '/photos'; },
             link: function (r) { return '/cases/' + encodeURIComponent(r.number); },
             title: function (r) { return r.body.title || ''; }, sent: 'sent'},
    'visit': {post: '/api/v1/visits', ref: 'id',
              photos: function (r) { return '/api/v1/visits/' + encodeURIComponent(r.number) + '/photos'; },
              link: function () { return '/field/visits'; },
              title: function (r) { return r.body.household || ''; }, sent: 'sentVisit'},
    // One request with its photos; the answer names the case an abnormal one opened, if any.
    'inspection': {post: function (r) { return '/api/v1/risk-points/' + encodeURIComponent(r.target) + '/inspections'; },
                   multipart: true, ref: 'case_number',
                   link: function (r) { return '/cases/' + encodeURIComponent(r.number); },
                   title: function (r) { return r.label || ''; }, sent: 'sentInspection'},
    'follow_up': {post: function (r) { return '/api/v1/cases/' + encodeURIComponent(r.target) + '/actions/follow_up'; },
                  ref: 'number',
                  link: function (r) { return '/cases/' + encodeURIComponent(r.number); },
                  title: function (r) { return r.label || r.target || ''; }, sent: 'sentFollowUp'}
  };
  function kindOf(record) { return KINDS[record.kind] || KINDS['case']; }

  function open() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB, 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore(STORE, {keyPath: 'key'});
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }

  function all() {
    return tx('readonly', function (store) { return store.getAll(); }).then(function (rows) {
      return (rows || []).sort(function (a, b) { return a.created - b.created; });
    });
  }
  function put(record) { return tx('readwrite', function (store) { store.put(record); }); }
  function remove(key) { return tx('readwrite', function (store) { store.delete(key); }); }

  /* An Idempotency-Key: random, made once per report (crypto.getRandomValues works on http). */
  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return 'r-' + Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  function parse(response) {
    return response.text().then(function (text) {
      var body = null;
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
      return {status: response.status, body: body};
    });
  }

  /* What the server said: its message, and its field errors as they came (errors.json), kept
     with the report so the page can show each beside its field (common.js GG.showErrors). */
  function refusal(record, r) {
    record.message = (r.body && r.body.message) || ('HTTP ' + r.status);
    record.errors = (r.body && r.body.errors && r.body.errors.json) || {};
    record.error = record.message;
  }

  /* The reason shown in the list: the message, and each field by its display name. */
  function reasonText(record) {
    var fields = record.errors && Object.keys(record.errors).length && window.GG &&
      GG.describeErrors(record.errors, window.ReportForm && window.ReportForm.labelOf);
    var message = record.message && window.GG ? GG.say(record.message) : (record.error || '');
    if (!fields) { return message; }
    var m = GG.messages();
    return message && message !== m.generic ? GG.fill(m.detailed, {message: message, details: fields}) : fields;
  }

  /* 408, 409 (the same request still being handled), 429 and 5xx are worth retrying; a 409 for
     a version the case no longer has (a 回访 someone else's change overtook) is not. */
  function definitive(status, body) {
    var errors = (body && body.errors) || {};
    if (status === 409 && (errors.version || (errors.json && errors.json.version))) { return true; }
    return status >= 400 && status < 500 && [401, 408, 409, 429].indexOf(status) < 0;
  }

  function sendReport(record) {
    var kind = kindOf(record);
    var url = typeof kind.post === 'function' ? kind.post(record) : kind.post;
    var headers = {'Accept': 'application/json', 'Idempotency-Key': record.key, 'X-CSRFToken': csrf()};
    var body;
    if (kind.multipart) {
      body = new FormData();
      Object.keys(record.body).forEach(function (name) {
        var v = record.body[name];
        if (v !== null && v !== undefined && v !== '') { body.append(name, String(v)); }
      });
      (record.photos || []).forEach(function (p, i) { body.append('photos', p.blob, p.name || ('photo-' + i + '.jpg')); });
    } else {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(record.body);
    }
    return fetch(url, {method: 'POST', credentials: 'same-origin', headers: headers, body: body}).then(parse);
  }

  function sendPhotos(record) {
    var form = new FormData();
    record.photos.forEach(function (p, i) { form.append('photos', p.blob, p.name || ('photo-' + i + '.jpg')); });
    return fetch(kindOf(record).photos(record), {
      method: 'POST', credentials: 'same-origin',
      headers: {'Accept': 'application/json', 'X-CSRFToken': csrf()}, body: form
    }).then(parse);
  }

  /* One attempt for one report; resolves to false when the network is down (stop for now). */
  function attempt(record) {
    if (record.status === 'failed' || record.status === 'sent') { return Promise.resolve(true); }
    var step = record.status === 'photos' ? sendPhotos(record) : sendReport(record);
    return step.then(function (r) {
      if (r.status === 401) {
        record.error = S.login; record.message = null; record.errors = {};
        return put(record).then(function () { return false; });
      }
      if (r.status >= 200 && r.status < 300) {
        var ref = kindOf(record).ref;
        if (record.status !== 'photos' && r.body && r.body[ref]) {
          record.number = String(r.body[ref]);
          // The receipt's code is answered once: shown until the next page load, then gone.
          if (r.body.receipt && r.body.receipt.code) { record.receipt = r.body.receipt.code; }
        }
        if (r.body && r.body.next_due) { record.answer = {next_due: r.body.next_due}; }  // 排查
        if (record.status !== 'photos' && record.photos && record.photos.length && !kindOf(record).multipart) {
          record.status = 'photos';
          return put(record).then(function () { return attempt(record); });
        }
        record.status = 'sent';
        record.photos = [];
        // Kept (without photos) so the user sees the number; gone at the next page load.
        return put(record).then(function () { return true; });
      }
      if (definitive(r.status, r.body)) {
        // 被退回: kept, photos too, to be opened, corrected and sent again (or deleted, asked).
        record.status = 'failed';
        refusal(record, r);
        return put(record).then(function () { return true; });
      }
      refusal(record, r);
      return put(record).then(function () { return true; });
    }, function () { return false; });  // fetch rejects only when the network fails
  }

  function flush() {
    if (busy) { return Promise.resolve(); }
    busy = true;
    return all().then(function (rows) {
      var pending = rows.filter(function (r) { return r.status === 'pending' || r.status === 'photos'; });
      var chain = Promise.resolve(true);
      pending.forEach(function (record) {
        chain = chain.then(function (online) { return online ? attempt(record) : false; });
      });
      return chain;
    }).then(function () { busy = false; notify(); }, function () { busy = false; notify(); });
  }

  /* Store a new record and try to send it; resolves to the stored record. `extra` names what
     it is about: {target: risk point id or case number, label: what the list shows}. */
  function add(body, photos, kind, extra) {
    var record = {key: newKey(), body: body, photos: photos || [], created: Date.now(),
                  status: 'pending', error: null, number: null, kind: kind || 'case',
                  target: (extra || {}).target || null, label: (extra || {}).label || null};
    return put(record).then(function () { notify(); return flush(); }).then(function () {
      return tx('readonly', function (store) { return store.get(record.key); });
    });
  }

  function forget(key) { return remove(key).then(notify); }

  /* Deleting a refused record loses what was typed: only once the user says so. */
  function discard(record) {
    if (record.status === 'failed' && !window.confirm(S.confirmDelete)) { return Promise.resolve(false); }
    return forget(record.key).then(function () { return true; });
  }

  function notify() {
    all().then(function (rows) {
      listeners.forEach(function (fn) { fn(rows); });
      render(rows);
    });
  }

  /* The list on the report page, or a banner elsewhere while something waits. */
  function render(rows) {
    var list = document.getElementById('outbox-list');
    if (list) {
      var kind = list.dataset.kind || 'case';
      rows = rows.filter(function (r) { return (r.kind || 'case') === kind; });
      var section = document.getElementById('outbox-section');
      if (section) { section.hidden = !rows.length; }
      list.textContent = '';
      if (!rows.length) {
        var empty = document.createElement('li');
        empty.className = 'sent';
        empty.textContent = S.none;
        list.appendChild(empty);
      }
      rows.forEach(function (r) {
        var li = document.createElement('li');
        li.className = r.status;
        li.dataset.key = r.key;
        var text = document.createElement('span');
        var title = r.body ? kindOf(r).title(r) : '';
        if (r.status === 'sent') {
          text.textContent = S[kindOf(r).sent] + (r.number ? ' ' + r.number : '') + ' · ' + title +
            (r.receipt ? ' · ' + S.receipt + '：' + r.receipt : '');
        } else if (r.status === 'failed') {
          text.textContent = S.returned + '：' + title + ' — ' + reasonText(r);
        } else {
          text.textContent = S.pending + '：' + title + (r.error ? ' — ' + reasonText(r) : '');
        }
        li.appendChild(text);
        if (r.number) {
          var link = document.createElement('a');
          link.href = kindOf(r).link(r);
          link.textContent = S.view;
          li.appendChild(link);
        }
        var opener = openers[r.kind || 'case'];
        if (r.status === 'failed' && opener) {
          var edit = document.createElement('button');
          edit.type = 'button'; edit.className = 'secondary open-report'; edit.textContent = opener.label;
          edit.addEventListener('click', function () { opener.fn(r); });
          li.appendChild(edit);
        }
        if (r.status === 'failed' || r.status === 'sent') {
          var del = document.createElement('button');
          del.type = 'button'; del.className = 'secondary delete-record'; del.textContent = S.delete;
          del.addEventListener('click', function () { discard(r); });
          li.appendChild(del);
        } else {
          var retry = document.createElement('button');
          retry.type = 'button'; retry.className = 'secondary'; retry.textContent = S.retry;
          retry.addEventListener('click', flush);
          li.appendChild(retry);
        }
        list.appendChild(li);
      });
      return;
    }
    var waiting = rows.filter(function (r) { return r.status === 'pending' || r.status === 'photos'; });
    var banner = document.getElementById('outbox-banner');
    if (!waiting.length) { if (banner) { banner.remove(); } return; }
    if (!banner) {
      banner = document.createElement('p');
      banner.id = 'outbox-banner';
      banner.className = 'notice outbox-banner';
      banner.setAttribute('role', 'status');
      document.body.appendChild(banner);
    }
    banner.textContent = S.pending + '：' + waiting.length;
  }

  function cleanSent() {
    return all().then(function (rows) {
      return Promise.all(rows.filter(function (r) { return r.status === 'sent'; })
        .map(function (r) { return remove(r.key); }));
    });
  }

  if (!('indexedDB' in window)) { return; }
  window.Outbox = {add: add, flush: flush, all: all, forget: forget, discard: discard,
                   onChange: function (fn) { listeners.push(fn); },
                   // A page opens a refused record of its kind again in its form.
                   onOpen: function (fn, label, kind) {
                     openers[kind || 'case'] = {fn: fn, label: label}; notify();
                   }};
  window.addEventListener('online', flush);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') { flush(); }
  });
  setInterval(flush, RETRY_MS);
  cleanSent().then(flush);
})();
