/**
 * The small script of every public page (progressive enhancement only; pages work without it):
 * « Autour de moi » geolocation, the map (loaded on demand), print and copy buttons.
 */

const LOCATING = 'Recherche de votre position…';
const LOCATE_ERROR = 'Votre position n’a pas pu être trouvée. Indiquez votre commune dans le champ de recherche.';

function aroundMe(): void {
  if (!('geolocation' in navigator)) return;
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-around-me]')) {
    const form = button.closest('form');
    if (!form) continue;
    const status = form.querySelector<HTMLElement>('[data-around-me-status]');
    button.hidden = false;
    button.addEventListener('click', () => {
      if (status) status.textContent = LOCATING;
      button.disabled = true;
      navigator.geolocation.getCurrentPosition(
        (pos) => {
          const params = new URLSearchParams(new FormData(form) as unknown as Record<string, string>);
          for (const k of ['q', 'near', 'territory', 'bbox', 'page']) params.delete(k);
          params.set('near', `${pos.coords.latitude.toFixed(5)},${pos.coords.longitude.toFixed(5)}`);
          window.location.assign(`${form.getAttribute('action') || '/recherche'}?${params.toString()}`);
        },
        () => {
          button.disabled = false;
          if (status) status.textContent = LOCATE_ERROR;
        },
        { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 },
      );
    });
  }
}

function printButtons(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-print]')) {
    if (b.dataset.bound) continue;
    b.dataset.bound = '1';
    b.hidden = false;
    b.addEventListener('click', () => window.print());
  }
}

function copyButtons(): void {
  const status = document.querySelector<HTMLElement>('[data-copy-status]');
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-copy]')) {
    const target = document.getElementById(b.dataset.copy ?? '') as HTMLTextAreaElement | null;
    if (!target) continue;
    b.hidden = false;
    b.addEventListener('click', async () => {
      target.select();
      try {
        await navigator.clipboard.writeText(target.value);
        if (status) status.textContent = 'Code copié.';
      } catch {
        if (status) status.textContent = 'Le code est sélectionné : copiez-le avec Ctrl+C.';
      }
    });
  }
}

interface MapHost extends HTMLElement {
  mapHandle?: { refresh(pointsUrl: string, center?: { lon: number; lat: number; radiusKm: number } | null): Promise<void> };
}

/**
 * Filters apply at once: a ticked box (or another sort) loads the same page for the new URL,
 * swaps the summary, chips, list and pagination, updates the counts next to the boxes, the URL
 * and the map, keeps the focus where it is and announces the new count. The « Appliquer » button
 * stays for pages without JavaScript.
 */
function instantFilters(): void {
  const form = document.querySelector<HTMLFormElement>('form[data-instant-filters]');
  const results = document.querySelector<HTMLElement>('[data-results]');
  if (!form || !results || !window.fetch || !window.DOMParser) return;
  const apply = form.querySelector<HTMLElement>('[data-apply-filters]');
  if (apply) apply.hidden = true;
  const live = results.querySelector<HTMLElement>('[data-results-live]');
  let seq = 0;
  const run = async () => {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (typeof v === 'string' && v !== '') params.append(k, v);
    const url = `${form.getAttribute('action') || location.pathname}?${params.toString()}`;
    const mine = ++seq;
    results.setAttribute('aria-busy', 'true');
    try {
      const r = await fetch(url, { headers: { Accept: 'text/html' } });
      if (!r.ok) throw new Error(String(r.status));
      const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
      if (mine !== seq) return;
      const swap = (sel: string) => {
        const now = results.querySelector(sel);
        const next = doc.querySelector(`[data-results] ${sel}`);
        if (now && next) now.replaceWith(document.importNode(next, true));
      };
      swap('[data-results-summary]');
      swap('.results-list-region');
      const chipsNow = results.querySelector('.chips');
      const chipsNext = doc.querySelector('[data-results] .chips');
      if (chipsNow) chipsNow.remove();
      if (chipsNext) results.querySelector('[data-results-summary]')?.after(document.importNode(chipsNext, true));
      // Counts next to the boxes, the badge and the download links.
      for (const c of doc.querySelectorAll<HTMLElement>('form[data-instant-filters] label[for]')) {
        const mineLabel = form.querySelector<HTMLElement>(`label[for="${CSS.escape(c.getAttribute('for')!)}"] .count`);
        const next = c.querySelector('.count');
        if (mineLabel && next) mineLabel.textContent = next.textContent;
      }
      const panelNow = results.querySelector('.filters-panel > summary');
      const panelNext = doc.querySelector('[data-results] .filters-panel > summary');
      if (panelNow && panelNext) panelNow.innerHTML = panelNext.innerHTML;
      const dlNow = results.querySelector('section[aria-labelledby="telecharger"]');
      const dlNext = doc.querySelector('[data-results] section[aria-labelledby="telecharger"]');
      if (dlNow && dlNext) dlNow.replaceWith(document.importNode(dlNext, true));
      history.replaceState(null, '', url);
      const summaryText = doc.querySelector('[data-results-summary]')?.textContent?.trim() ?? '';
      if (live) live.textContent = summaryText;
      const mapNow = document.querySelector<MapHost>('[data-map="results"]');
      const mapNext = doc.querySelector<HTMLElement>('[data-map="results"]');
      if (mapNow && mapNext && mapNow.mapHandle && mapNext.dataset.points) {
        const c = mapNext.dataset.center?.split(',').map(Number);
        await mapNow.mapHandle.refresh(mapNext.dataset.points, c && c.length === 2 ? { lon: c[0]!, lat: c[1]!, radiusKm: Number(mapNext.dataset.radius ?? 10) } : null);
      } else if (mapNow && mapNext) {
        mapNow.dataset.points = mapNext.dataset.points ?? '';
      }
      shareButtons();
      printButtons();
    } catch {
      if (live) live.textContent = 'Les résultats n’ont pas pu être mis à jour. Utilisez le bouton « Appliquer les filtres ».';
      if (apply) apply.hidden = false;
    } finally {
      if (mine === seq) results.removeAttribute('aria-busy');
    }
  };
  form.addEventListener('change', (e) => {
    const t = e.target as HTMLInputElement | HTMLSelectElement;
    if (t.matches('input[type="checkbox"], select')) void run();
  });
}

/** Phones: one of list or map at a time, switched by two buttons (both shown on wide screens). */
function viewSwitch(): void {
  const sw = document.querySelector<HTMLElement>('[data-view-switch]');
  const results = document.querySelector<HTMLElement>('[data-results]');
  if (!sw || !results || !document.querySelector('[data-map="results"]')) return;
  sw.hidden = false;
  results.dataset.view = 'list';
  for (const b of sw.querySelectorAll<HTMLButtonElement>('[data-view]')) {
    b.addEventListener('click', () => {
      results.dataset.view = b.dataset.view!;
      for (const o of sw.querySelectorAll<HTMLButtonElement>('[data-view]')) o.setAttribute('aria-pressed', String(o === b));
      const host = document.querySelector<HTMLElement & { maplibreMap?: { resize(): void } }>('[data-map="results"]');
      host?.maplibreMap?.resize();
    });
  }
}

/** « Copier le lien » on searches and place pages. */
function shareButtons(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-share]')) {
    if (b.dataset.bound) continue;
    b.dataset.bound = '1';
    b.hidden = false;
    const status = b.closest('section, aside, div')?.parentElement?.querySelector<HTMLElement>('[data-share-status]') ?? document.querySelector<HTMLElement>('[data-share-status]');
    b.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(location.href);
        if (status) status.textContent = 'Lien copié : vous pouvez le coller dans un message.';
      } catch {
        if (status) status.textContent = `Copiez ce lien : ${location.href}`;
      }
    });
  }
}

function maps(): void {
  const containers = document.querySelectorAll<HTMLElement>('[data-map]');
  if (containers.length === 0) return;
  const src = new URL('./map.js', import.meta.url).href;
  import(/* @vite-ignore */ src)
    .then((m: { initMaps: (els: NodeListOf<HTMLElement>) => void }) => m.initMaps(containers))
    .catch(() => {
      for (const c of containers) c.hidden = true;
    });
}

document.documentElement.classList.add('js');
// A confirmation or an error summary takes the focus where the person is looking.
document.querySelector<HTMLElement>('[data-focus-on-load]')?.focus();
aroundMe();
printButtons();
shareButtons();
instantFilters();
viewSwitch();
copyButtons();
maps();
