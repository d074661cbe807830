/* The outbox: reports kept on this device until the server has them (poor connections).

   Each report is stored in IndexedDB with the Idempotency-Key made once, when it was first
   submitted, and its photos. It is sent at once, again when the network comes back (`online`),
   every 30 seconds and on every page load; the server turns any number of retries with the same
   key into exactly one case. A report leaves the outbox only after a 2xx (its photos uploaded)
   or a definitive 4xx, whose reason stays shown until the user deletes it (on the report page it
   can be opened again: its fields back in the form, each message beside its field).
   Visits (走访, /field/visits/new) go through the same outbox: a record's `kind` says where it
   is sent (KINDS); a page's list shows the records of its own kind (data-kind). */
(function () {
  'use strict';
  var DB = 'gridgov-outbox', STORE = 'reports', RETRY_MS = 30000;
  var S = JSON.parse((document.getElementById('outbox-strings') || {}).textContent || '{}');
  var listeners = [], busy = false, dbPromise = null, opener = null, openLabel = '';
  /* Where each kind of record goes, which answer field identifies it, and what the list shows. */
  var KINDS = {
    'case': {post: '/api/v1/cases', ref: 'number',
             photos: function (r) { return '/api/v1/cases/' + encodeURIComponent(r.number) + '/photos'; },
             link: function (r) { return '/cases/' + encodeURIComponent(r.number); },
             title: function (b) { return b.title || ''; }},
    'visit': {post: '/api/v1/visits', ref: 'id',
              photos: function (r) { return '/api/v1/visits/' + encodeURIComponent(r.number) + '/photos'; },
              link: function () { return '/field/visits'; },
              title: function (b) { return b.household || ''; }}
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

  /* 408, 409 (the same request still being handled), 429 and 5xx are worth retrying. */
  function definitive(status) {
    return status >= 400 && status < 500 && [401, 408, 409, 429].indexOf(status) < 0;
  }

  function sendReport(record) {
    return fetch(kindOf(record).post, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json',
                'Idempotency-Key': record.key, 'X-CSRFToken': csrf()},
      body: JSON.stringify(record.body)
    }).then(parse);
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
        if (record.status !== 'photos' && record.photos && record.photos.length) {
          record.status = 'photos';
          return put(record).then(function () { return attempt(record); });
        }
        record.status = 'sent';
        record.photos = [];
        // Kept (without photos) so the user sees the number; gone at the next page load.
        return put(record).then(function () { return true; });
      }
      if (definitive(r.status)) {
        record.status = 'failed';
        refusal(record, r);
        record.photos = [];
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

  /* Store a new report and try to send it; resolves to the stored record. */
  function add(body, photos, kind) {
    var record = {key: newKey(), body: body, photos: photos || [], created: Date.now(),
                  status: 'pending', error: null, number: null, kind: kind || 'case'};
    return put(record).then(function () { notify(); return flush(); }).then(function () {
      return tx('readonly', function (store) { return store.get(record.key); });
    });
  }

  function forget(key) { return remove(key).then(notify); }

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
        var title = r.body ? kindOf(r).title(r.body) : '';
        if (r.status === 'sent') {
          text.textContent = (r.kind === 'visit' ? S.sentVisit : S.sent) + ' ' + r.number + ' · ' + title +
            (r.receipt ? ' · ' + S.receipt + '：' + r.receipt : '');
        } else if (r.status === 'failed') {
          text.textContent = S.failed + '：' + title + ' — ' + reasonText(r);
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
        if (r.status === 'failed' && opener) {
          var edit = document.createElement('button');
          edit.type = 'button'; edit.className = 'secondary open-report'; edit.textContent = openLabel;
          edit.addEventListener('click', function () { opener(r); });
          li.appendChild(edit);
        }
        if (r.status === 'failed' || r.status === 'sent') {
          var del = document.createElement('button');
          del.type = 'button'; del.className = 'secondary'; del.textContent = S.delete;
          del.addEventListener('click', function () { forget(r.key); });
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
  window.Outbox = {add: add, flush: flush, all: all, forget: forget,
                   onChange: function (fn) { listeners.push(fn); },
                   // The report page opens a refused report again in its form.
                   onOpen: function (fn, label) { opener = fn; openLabel = label; notify(); }};
  window.addEventListener('online', flush);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') { flush(); }
  });
  setInterval(flush, RETRY_MS);
  cleanSent().then(flush);
})();
