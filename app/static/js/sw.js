/* The service worker (served as /sw.js by app/web/offline.py, which prepends self.GRIDGOV_SW:
   the version, the field pages and the static files to precache, the sign-in/out URLs).

   - Field pages (上报, 排查, 我的网格, 记走访) and the case pages a worker opens (回访): network
     first; what came back 200 is kept, and with no network the kept copy is answered.
   - Static files: from the cache, else the network (a deploy changes the version, so the new
     worker precaches them again and drops the old cache).
   - Everything else, every /api/ request among them, is not touched: answers with personal data
     and authenticated JSON are never stored.
   - Signing in or out (a shared phone) deletes every cache. */
'use strict';
var CONFIG = self.GRIDGOV_SW || {version: 'dev', pages: [], assets: [], login: []};
var CACHE = 'gridgov-' + CONFIG.version;
var CASE_PAGE = /^\/cases\/[^/]+$/;

function isPage(url) {
  return CONFIG.pages.indexOf(url.pathname) >= 0 || CASE_PAGE.test(url.pathname);
}

function clearAll() {
  return caches.keys().then(function (keys) {
    return Promise.all(keys.map(function (k) { return caches.delete(k); }));
  });
}

/* A page is kept only when it is the page itself (not a redirect to the login page). */
function keep(cache, request, response) {
  if (response && response.ok && !response.redirected && response.type === 'basic') {
    return cache.put(request, response.clone());
  }
  return Promise.resolve();
}

/* The pages not yet kept (after a sign-out emptied the cache), and the static files. */
function warm() {
  return caches.open(CACHE).then(function (cache) {
    return cache.addAll(CONFIG.assets).catch(function () { return null; }).then(function () {
      return Promise.all(CONFIG.pages.map(function (path) {
        return cache.match(path).then(function (hit) {
          if (hit) { return null; }
          // Marked, so the server neither takes the flashed messages nor writes the session
          // cookie: a form the person sends meanwhile keeps its answer's message.
          return fetch(path, {credentials: 'same-origin', redirect: 'follow',
                              headers: {'X-GridGov-Warm': '1'}})
            .then(function (r) { return keep(cache, path, r); }, function () { return null; });
        });
      }));
    });
  });
}

self.addEventListener('install', function (event) {
  event.waitUntil(warm().then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener('message', function (event) {
  var kind = event.data && event.data.type;
  if (kind === 'warm') { event.waitUntil(warm()); }
  if (kind === 'clear') { event.waitUntil(clearAll()); }
});

self.addEventListener('fetch', function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === 'navigate' && CONFIG.login.indexOf(url.pathname) >= 0) {
    event.waitUntil(clearAll());  // signing in or out: nothing of the last user stays
    return;
  }
  if (request.method !== 'GET') { return; }
  if (url.pathname.indexOf('/static/') === 0) {
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        return hit || fetch(request).then(function (r) {
          if (r.ok) { cache.put(request, r.clone()); }
          return r;
        });
      });
    }));
    return;
  }
  if (request.mode === 'navigate' && isPage(url)) {
    var key = url.origin + url.pathname;  // one copy per page, whatever the query or anchor
    event.respondWith(fetch(request).then(function (r) {
      return caches.open(CACHE).then(function (cache) { return keep(cache, key, r); })
        .then(function () { return r; });
    }, function () {
      return caches.open(CACHE).then(function (cache) { return cache.match(key); })
        .then(function (hit) { return hit || Response.error(); });
    }));
  }
});
