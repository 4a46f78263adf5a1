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

aroundMe();
printButtons();
copyButtons();
maps();
