// Place picker: turns the « Chercher un lieu » field into an accessible autocomplete (ARIA 1.2
// combobox with a listbox). Without this script the field is a plain search form whose results
// come back as checkboxes (server-rendered fallback). Plain JavaScript, no build step.
(function () {
  'use strict';
  var input = document.querySelector('input[data-place-picker]');
  if (!input || !window.fetch) return;
  var url = input.getAttribute('data-place-picker');
  var target = document.getElementById(input.getAttribute('data-place-target'));
  if (!target) return;
  var list = document.createElement('ul');
  list.id = 'f-lieu-options';
  list.setAttribute('role', 'listbox');
  list.setAttribute('aria-label', 'Lieux proposés');
  list.className = 'place-options';
  list.hidden = true;
  var status = document.createElement('p');
  status.className = 'visually-hidden';
  status.setAttribute('role', 'status');
  input.parentNode.appendChild(list);
  input.parentNode.appendChild(status);
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', list.id);
  var items = [];
  var active = -1;
  var timer = null;
  var seq = 0;

  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }
  function setActive(i) {
    var options = list.querySelectorAll('[role="option"]');
    if (!options.length) return;
    active = (i + options.length) % options.length;
    for (var j = 0; j < options.length; j++) options[j].setAttribute('aria-selected', j === active ? 'true' : 'false');
    input.setAttribute('aria-activedescendant', options[active].id);
    options[active].scrollIntoView({ block: 'nearest' });
  }
  function render() {
    list.textContent = '';
    items.forEach(function (p, i) {
      var li = document.createElement('li');
      li.id = 'f-lieu-opt-' + i;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', 'false');
      li.textContent = p.nom + ' — ' + (p.codePostal ? p.codePostal + ' ' : '') + p.commune;
      li.addEventListener('mousedown', function (e) { e.preventDefault(); choose(i); });
      list.appendChild(li);
    });
    list.hidden = items.length === 0;
    input.setAttribute('aria-expanded', items.length ? 'true' : 'false');
    status.textContent = items.length === 0 ? 'Aucun lieu trouvé.' : items.length === 1 ? '1 lieu proposé.' : items.length + ' lieux proposés.';
    active = -1;
  }
  function choose(i) {
    var p = items[i];
    if (!p) return;
    var ul = target.querySelector('ul.place-list');
    var existing = target.querySelector('input[name="places"][value="' + p.uid + '"]');
    if (existing) existing.checked = true;
    else {
      var li = document.createElement('li');
      var label = document.createElement('label');
      var box = document.createElement('input');
      box.type = 'checkbox';
      box.name = 'places';
      box.value = p.uid;
      box.checked = true;
      label.appendChild(box);
      label.appendChild(document.createTextNode(' ' + p.nom + ' — ' + p.commune));
      li.appendChild(label);
      ul.appendChild(li);
    }
    var empty = target.querySelector('[data-empty]');
    if (empty) empty.remove();
    status.textContent = p.nom + ' ajouté à vos lieux : enregistrez pour confirmer.';
    input.value = '';
    items = [];
    close();
    list.textContent = '';
  }
  function lookup() {
    var q = input.value.trim();
    if (q.length < 2) { items = []; render(); close(); return; }
    var mine = ++seq;
    fetch(url + '?q=' + encodeURIComponent(q), { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) { if (mine === seq) { items = data.items || []; render(); } })
      .catch(function () { /* offline: the search button still works */ });
  }
  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(lookup, 200);
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowDown') { e.preventDefault(); if (list.hidden && items.length) { list.hidden = false; input.setAttribute('aria-expanded', 'true'); } setActive(active + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); setActive(active - 1); }
    else if (e.key === 'Enter' && !list.hidden && active >= 0) { e.preventDefault(); choose(active); }
    else if (e.key === 'Escape') { if (!list.hidden) { e.preventDefault(); close(); } }
  });
  input.addEventListener('blur', function () { setTimeout(close, 150); });
})();
