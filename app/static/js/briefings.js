/* 工作简报: follow the briefings still being made (poll their job) and show their downloads. */
(function () {
  'use strict';
  var S = GG.strings();

  function follow(row) {
    GG.api('GET', row.dataset.url).then(function (r) {
      if (!r.ok) { return; }
      var job = r.body;
      row.dataset.state = job.state;
      row.querySelector('progress').value = job.progress;
      row.querySelector('.job-state').textContent =
        (S[job.state] || job.state) + (job.error ? '：' + job.error : '');
      if (job.state === 'done') {
        var links = row.querySelector('.job-links');
        links.textContent = '';
        links.appendChild(GG.el('a', {href: job.links.docx}, 'Word'));
        links.appendChild(document.createTextNode(' · '));
        links.appendChild(GG.el('a', {href: job.links.pdf}, 'PDF'));
      } else if (job.state !== 'failed') {
        window.setTimeout(function () { follow(row); }, 1500);
      }
    });
  }

  document.querySelectorAll('tr.briefing-job').forEach(function (row) {
    if (row.dataset.state === 'queued' || row.dataset.state === 'running') { follow(row); }
  });
})();
