/* 台账导入: follow an import being applied (poll its status) and show its progress and counts. */
(function () {
  'use strict';
  var S = GG.strings();
  var box = document.getElementById('import-status');
  if (!box) { return; }

  function follow() {
    GG.api('GET', box.dataset.url).then(function (r) {
      if (!r.ok) { return; }
      var s = r.body;
      box.dataset.state = s.state;
      if (s.state !== 'checking') { box.querySelector('progress').value = s.progress; }
      box.querySelector('.job-state').textContent =
        (S[s.state] || s.state) + (s.error ? '：' + s.error : '');
      box.querySelector('.n-created').textContent = s.created;
      box.querySelector('.n-unchanged').textContent = s.unchanged;
      box.querySelector('.n-problems').textContent = s.problem_rows;
      if (checking && s.state !== 'checking') {
        window.location.reload();  // the dry run is done: the page lists its problems
      } else if (s.state === 'queued' || s.state === 'running' || s.state === 'checking') {
        window.setTimeout(follow, 1500);
      }
    });
  }

  var checking = box.dataset.state === 'checking';
  if (['running', 'queued', 'checking'].indexOf(box.dataset.state) >= 0) {
    follow();
  }
})();
