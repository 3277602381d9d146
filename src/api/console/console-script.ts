/**
 * The console's only script (served as /console/assets/console.js; the pages
 * carry no inline script, so the Content-Security-Policy can forbid them all).
 * It does three things, each small: follow a job over its SSE stream and
 * re-render the job panel the server renders; send action forms as JSON with
 * the page's CSRF token, dry run first; tick "select all" boxes. Everything it
 * writes into the page is text (textContent) or HTML the server escaped.
 */
export const CONSOLE_JS = `
'use strict';
(function () {
  var csrfMeta = document.querySelector('meta[name="warren-csrf"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';

  // Live job page: every event re-renders the panel (server-side, escaped).
  var live = document.querySelector('[data-live-job]');
  if (live && window.EventSource) {
    var id = live.getAttribute('data-live-job');
    var es = new EventSource('/console/jobs/' + encodeURIComponent(id) + '/events');
    var log = document.getElementById('live-log');
    var refresh = function () {
      fetch('/console/jobs/' + encodeURIComponent(id) + '/panel', { credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error(String(r.status))); })
        .then(function (text) { live.innerHTML = text; })
        .catch(function () { /* the next event retries */ });
    };
    ['queued', 'running', 'retrying', 'succeeded', 'failed', 'dead-lettered', 'requeued'].forEach(function (type) {
      es.addEventListener(type, function (ev) {
        if (log) {
          var li = document.createElement('li');
          var at = '';
          try { at = JSON.parse(ev.data).updatedAt || ''; } catch (e) { at = ''; }
          li.textContent = (at ? at + '  ' : '') + type;
          log.appendChild(li);
        }
        var st = document.getElementById('live-state');
        if (st) st.textContent = 'live: ' + type;
        refresh();
        if (type === 'succeeded' || type === 'failed' || type === 'dead-lettered') es.close();
      });
    });
    es.onerror = function () { var st = document.getElementById('live-state'); if (st) st.textContent = 'live: reconnecting'; };
  }

  // "Select all" boxes.
  document.querySelectorAll('input[data-select-all]').forEach(function (box) {
    box.addEventListener('change', function () {
      document.querySelectorAll('input[name="' + box.getAttribute('data-select-all') + '"]').forEach(function (b) { b.checked = box.checked; });
    });
  });

  function bodyOf(form) {
    var body = {};
    new FormData(form).forEach(function (value, key) {
      if (value !== '') body[key] = String(value);
    });
    return body;
  }

  function send(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' , 'x-warren-csrf': csrf },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, status: r.status, body: j }; });
    });
  }

  // Action forms: dry run first, then a confirm button that names the count.
  document.querySelectorAll('form[data-action]').forEach(function (form) {
    var out = form.querySelector('.result');
    var confirmBtn = form.querySelector('button[data-confirm]');
    var show = function (text, cls) { if (out) { out.textContent = text; out.className = 'result ' + (cls || ''); } };
    var expected;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var submitter = ev.submitter;
      var dryRun = !(submitter && submitter.hasAttribute('data-confirm'));
      var body = bodyOf(form);
      if (form.getAttribute('data-needs-selection')) {
        body.id = [];
        document.querySelectorAll('input[name="id"]:checked').forEach(function (b) { body.id.push(b.value); });
        if (body.id.length === 0) { show('select at least one message', 'err'); return; }
      }
      body.dryRun = dryRun;
      if (!dryRun && expected !== undefined) body.expected = expected;
      show(dryRun ? 'counting…' : 'working…');
      form.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
      send(form.getAttribute('data-action'), body).then(function (r) {
        form.querySelectorAll('button').forEach(function (b) { b.disabled = false; });
        if (!r.ok) {
          var e = r.body && r.body.error ? r.body.error : { code: String(r.status), message: 'request failed' };
          show(e.code + ': ' + e.message, 'err');
          if (confirmBtn) confirmBtn.hidden = true;
          return;
        }
        show(r.body.summary || 'done', dryRun ? '' : 'ok');
        if (dryRun && confirmBtn) {
          expected = r.body.count;
          confirmBtn.hidden = !(r.body.count > 0);
          confirmBtn.textContent = confirmBtn.getAttribute('data-confirm').replace('{n}', String(r.body.count));
        } else if (confirmBtn) {
          confirmBtn.hidden = true;
          expected = undefined;
        }
      }, function () {
        form.querySelectorAll('button').forEach(function (b) { b.disabled = false; });
        show('the API did not answer', 'err');
      });
    });
  });
})();
`;
