// Search by name or id (/api/search; Chinese works) with a result list; choosing one flies to it.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { debounce, h, replace } from './dom.js';

/** Wire the search box; `onChoose(result)` gets {id, name, class, layer, center, bbox}. */
export function initSearch(onChoose) {
  const input = document.getElementById('search-input');
  const list = document.getElementById('search-results');
  let results = [];
  let asked = 0;

  const choose = (r) => {
    list.hidden = true;
    input.value = r.name || r.id;
    onChoose(r);
  };

  const run = debounce(async () => {
    const q = input.value.trim();
    const mine = ++asked;
    if (!q) {
      list.hidden = true;
      return;
    }
    try {
      results = await api.search(q, 10);
    } catch (err) {
      results = [];
      if (mine === asked) replace(list, h('li', { class: 'error' }, `${t('error.load')}: ${err.message}`));
      list.hidden = false;
      return;
    }
    if (mine !== asked) return;
    list.hidden = false;
    if (!results.length) {
      replace(list, h('li', { class: 'muted' }, t('search.none')));
      return;
    }
    replace(list, results.map((r) => h('li', { dataset: { id: r.id }, onmousedown: (e) => { e.preventDefault(); choose(r); } },
      h('strong', {}, r.name || r.id), h('span', { class: 'muted' }, ` ${r.class || ''} · ${r.id}`))));
  }, 180);

  input.addEventListener('input', run);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && results.length) choose(results[0]);
    if (e.key === 'Escape') list.hidden = true;
  });
  input.addEventListener('blur', () => setTimeout(() => { list.hidden = true; }, 150));
}
