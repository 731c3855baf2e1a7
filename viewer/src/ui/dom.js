// Tiny DOM helpers: elements are built with textContent only (names from the city are never HTML).

/** Create an element: h('div', {class: 'x', onclick: fn, dataset: {k: v}}, child, 'text', …). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** 'rgb(r,g,b)' of an [r, g, b(, a)] colour. */
export function rgb(c) {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** A display string for a property value (numbers rounded, booleans as ✓/✗, objects as JSON). */
export function show(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? '✓' : '✗';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

let clock = null;

/**
 * Show times on the city's clock from now on: `zone` is an IANA name (the city's time zone, e.g.
 * 'Asia/Shanghai'); null or an unknown name falls back to the browser's own zone.
 */
export function setTimeZone(zone) {
  try {
    clock = zone ? new Intl.DateTimeFormat('en-GB', {
      timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
      hourCycle: 'h23',
    }) : null;
  } catch {
    clock = null;
  }
}

/** Date-time 'YYYY-MM-DD HH:mm' of an ISO string or Date on the city's clock (see setTimeZone). */
export function when(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value ?? '—');
  if (clock) {
    const part = Object.fromEntries(clock.formatToParts(d).map((x) => [x.type, x.value]));
    return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}`;
  }
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Debounce `fn` by `ms`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
