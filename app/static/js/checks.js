/* What the field forms check before queueing: the API's own rules (ID number GB 11643 checksum,
   phone pattern, a time neither in the future nor before 1949-10-01), given by the server as data
   in #check-rules (app/web/forms.py check_rules, from app.pii and app.cases.schemas), with the
   API's messages. Each check answers null (fine) or the message to show at the field. */
(function (root) {
  'use strict';
  function rules() {
    var node = root.document && root.document.getElementById('check-rules');
    return node ? JSON.parse(node.textContent) : (root.CHECK_RULES || {});
  }

  function idNumber(value) {
    var R = rules();
    var v = String(value || '').toUpperCase();
    if (v.length !== 18) { return R.messages.id_length; }
    if (!new RegExp(R.id_pattern).test(v)) { return R.messages.id_checksum; }
    var total = 0;
    for (var i = 0; i < 17; i += 1) { total += Number(v[i]) * R.id_weights[i]; }
    return R.id_check[total % 11] === v[17] ? null : R.messages.id_checksum;
  }

  function phone(value) {
    var R = rules();
    var v = String(value || '');
    var ok = R.phone_patterns.some(function (p) { return new RegExp(p).test(v); });
    return ok ? null : R.messages.phone;
  }

  /* An instant (a Date): not before the earliest, not after now plus the phone clock's slack. */
  function occurredAt(when, now) {
    var R = rules();
    now = now || new Date();
    if (when < new Date(R.earliest_occurred)) { return R.messages.too_early; }
    if (when.getTime() > now.getTime() + R.clock_skew_minutes * 60000) { return R.messages.future; }
    return null;
  }

  /* A day (YYYY-MM-DD, the device's calendar): not after today. */
  function notAfterToday(day, now) {
    now = now || new Date();
    var today = now.getFullYear() + '-' + ('0' + (now.getMonth() + 1)).slice(-2) + '-' +
      ('0' + now.getDate()).slice(-2);
    return day && day > today ? rules().messages.future_day : null;
  }

  root.Checks = {idNumber: idNumber, phone: phone, occurredAt: occurredAt, notAfterToday: notAfterToday};
})(typeof window !== 'undefined' ? window : globalThis);
