// The left column (KPI cards, legend, layer toggles) and the open-alerts list.
import { kpiLabel, t } from '../i18n.js';
import { statusColor } from '../palette.js';
import { h, replace, rgb, show, when } from './dom.js';

/** KPI cards from /api/kpis?mode= ([{key, label_zh, label_en, value, unit, level}]). */
export function renderKpis(kpis) {
  const el = document.getElementById('kpis');
  replace(el, kpis.map((k) => h('div', {
    class: `kpi ${k.level ? `level-${k.level}` : ''}`,
    dataset: { key: k.key },
    style: k.level ? { borderColor: rgb(statusColor(k.level)) } : undefined,
  },
  h('div', { class: 'kpi-value' }, show(k.value), k.unit ? h('small', {}, ` ${k.unit}`) : null),
  h('div', { class: 'kpi-label' }, kpiLabel(k)))));
}

/** Legend rows: [{color, key, fallback, dot, ring}]. */
export function renderLegend(rows) {
  const el = document.getElementById('legend');
  replace(el, rows.map((r) => h('li', {},
    h('span', {
      class: `swatch ${r.dot ? 'dot' : ''} ${r.ring ? 'ring' : ''}`,
      style: r.ring ? { borderColor: rgb(r.color) } : { background: rgb(r.color) },
    }),
    h('span', {}, t(r.key, r.fallback)))));
}

/** Layer toggles: [{name, label, on}], `onToggle(name, on)`. */
export function renderToggles(items, onToggle) {
  const el = document.getElementById('toggles');
  replace(el, items.map((it) => h('li', {},
    h('label', {},
      h('input', {
        type: 'checkbox', checked: it.on, dataset: { layer: it.name },
        onchange: (e) => onToggle(it.name, e.target.checked),
      }),
      ` ${it.label}`))));
}

/** The open-alerts list; `onPick(alert)` flies to it. */
export function renderAlerts(alerts, onPick) {
  const el = document.getElementById('alert-list');
  if (!alerts.length) {
    replace(el, h('li', { class: 'muted' }, t('panel.alerts.none')));
    return;
  }
  const sorted = [...alerts].sort((a, b) => String(b.opened_at).localeCompare(String(a.opened_at)));
  replace(el, sorted.map((a) => h('li', {
    class: `alert level-${a.level}`,
    dataset: { alertId: String(a.id) },
    onclick: () => onPick(a),
  },
  h('span', { class: 'badge', style: { background: rgb(statusColor(a.level)) } }, t(`status.${a.level}`, a.level)),
  h('span', { class: 'alert-msg' }, a.message || a.rule || String(a.id)),
  h('span', { class: 'muted' }, when(a.opened_at)))));
}
