/* 离线: registers the service worker (/sw.js: the field pages open with no network), says so on
   the page while the network is down, and empties the caches when the user signs out (a shared
   phone keeps nothing of them). Loaded by the layout for users who report (base.html). */
(function () {
  'use strict';
  var S = JSON.parse((document.getElementById('outbox-strings') || {}).textContent || '{}');

  function banner() {
    var note = document.getElementById('offline-banner');
    if (navigator.onLine) { if (note) { note.remove(); } return; }
    if (note) { return; }
    note = document.createElement('p');
    note.id = 'offline-banner';
    note.className = 'notice offline-banner';
    note.setAttribute('role', 'status');
    note.textContent = S.offline || 'offline';
    var main = document.getElementById('main') || document.body;
    main.insertBefore(note, main.firstChild);
  }
  window.addEventListener('online', banner);
  window.addEventListener('offline', banner);
  banner();

  function clearCaches() {
    if (!window.caches) { return Promise.resolve(); }
    return caches.keys().then(function (keys) {
      return Promise.all(keys.map(function (k) { return caches.delete(k); }));
    });
  }
  document.querySelectorAll('form[action$="/logout"]').forEach(function (form) {
    form.addEventListener('submit', function (e) {
      if (form.dataset.cleared) { return; }
      e.preventDefault();
      form.dataset.cleared = 'true';
      clearCaches().then(function () { form.submit(); }, function () { form.submit(); });
    });
  });

  if (!('serviceWorker' in navigator)) { return; }
  navigator.serviceWorker.register('/sw.js', {scope: '/'}).then(function (registration) {
    // After a sign-out emptied the cache, the new user's field pages are kept again.
    var worker = registration.active || navigator.serviceWorker.controller;
    if (worker && navigator.onLine) { worker.postMessage({type: 'warm'}); }
  }, function () { /* no service worker (private mode, old browser): pages need the network */ });
})();
