// Offline-tolerant recording (progressive enhancement of /mediation/activites/nouvelle).
// The form carries a server-made idempotency key. On submit the record is first kept in
// localStorage, then sent with fetch; it leaves localStorage only once the server has answered
// (201 recorded, 200 already recorded: the server deduplicates by the key, so a record resent
// after a lost answer is never counted twice). Without network it stays and is sent again when the
// browser comes back online or the page is opened again.
const KEY = 'maillage.mediation.pending';
const form = document.querySelector('form[data-offline-record]');
const status = document.getElementById('offline-status');

function pending() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}
function save(list) {
  localStorage.setItem(KEY, JSON.stringify(list));
}
function say(text) {
  if (status) status.textContent = text;
}
function currentCsrf() {
  const input = document.querySelector('input[name="_csrf"]');
  return input ? input.value : '';
}

async function send(entry) {
  const body = new URLSearchParams();
  for (const [k, v] of entry.fields) body.append(k, k === '_csrf' ? currentCsrf() || v : v);
  const res = await fetch('/mediation/activites', {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body,
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({}));
  return { status: res.status, data };
}

let flushing = false;
async function flush() {
  if (flushing || !navigator.onLine) return;
  flushing = true;
  try {
    for (const entry of pending()) {
      let r;
      try {
        r = await send(entry);
      } catch {
        say('Pas de réseau : les activités en attente seront envoyées au retour de la connexion.');
        return;
      }
      if (r.status === 200 || r.status === 201 || r.status === 422) {
        // Recorded, already recorded, or refused (the person will see why when resubmitting): done.
        save(pending().filter((e) => e.key !== entry.key));
        if (r.status === 422) say(`Une activité gardée sur cet appareil a été refusée : ${r.data.message || 'données invalides'}`);
      } else if (r.status === 401) {
        say('Reconnectez-vous pour envoyer les activités gardées sur cet appareil.');
        return;
      }
    }
    const left = pending().length;
    if (!left) say('');
    else say(`${left} activité${left > 1 ? 's' : ''} en attente d’envoi sur cet appareil.`);
  } finally {
    flushing = false;
  }
}

if (form) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = [...new FormData(form).entries()].filter(([, v]) => typeof v === 'string');
    const key = (fields.find(([k]) => k === 'idempotencyKey') || [])[1];
    const list = pending().filter((e) => e.key !== key);
    list.push({ key, fields, at: new Date().toISOString() });
    save(list);
    let r;
    try {
      r = await send({ key, fields });
    } catch {
      say('Pas de réseau : l’activité est gardée sur cet appareil et sera envoyée au retour de la connexion.');
      return;
    }
    if (r.status === 422) {
      save(pending().filter((e) => e.key !== key));
      form.submit(); // the server shows the form with its errors next to the fields
      return;
    }
    if (r.status === 200 || r.status === 201) {
      save(pending().filter((e) => e.key !== key));
      window.location.assign(`/mediation?enregistre=${encodeURIComponent(r.data.id)}${r.status === 200 ? '&doublon=1' : ''}`);
      return;
    }
    say('L’envoi a échoué : l’activité est gardée sur cet appareil et sera renvoyée.');
  });
}
window.addEventListener('online', flush);
flush();
