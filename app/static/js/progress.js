/* The progress page (/q/<number>): a QR code or link may carry the query code in the URL's
   fragment (#code=...), which browsers never send to the server. Fill the field from it, then
   drop it from the address bar so it is not kept in the history. */
(function () {
  'use strict';
  var match = /(?:^#|&)code=([A-Za-z0-9-]{1,20})/.exec(window.location.hash || '');
  if (!match) { return; }
  var field = document.querySelector('#lookup-form input[name="code"]');
  if (field && !field.value) { field.value = match[1]; }
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
})();
