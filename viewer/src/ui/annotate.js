// The annotation tool (批注): click the map for a point (three or more clicks: an area), write the
// note, choose who may read it, save. The notes the caller may read are listed in the left column;
// the caller's role (from the server) decides which readers can be chosen.
import { onMapClick, redraw } from '../app.js';
import { draftGeometry, loadAnnotations } from '../annotations.js';
import { api, ApiError } from '../api.js';
import { flyTo } from '../camera.js';
import { t } from '../i18n.js';
import { state } from '../state.js';
import { h, replace, when } from './dom.js';

const $ = (id) => document.getElementById(id);
const ROLES = ['anonymous', 'viewer', 'operator', 'planner', 'admin'];

/** Load the notes and draw them and their list (the box stays hidden on a server without notes). */
export async function refreshAnnotations() {
  const answer = await loadAnnotations();
  $('annotations-box').hidden = !answer;
  renderList();
  redraw();
  document.body.dataset.annotations = 'loaded';
}

function renderList() {
  const list = $('annotation-list');
  const notes = state.annotations;
  if (!notes.length) {
    replace(list, h('li', { class: 'muted' }, t('annotate.none')));
    return;
  }
  replace(list, notes.map((a) => h('li', { dataset: { id: a.id, minRole: a.min_role } },
    h('span', { class: 'note-text', onclick: () => flyTo(center(a.geometry), { zoom: 18 }) }, a.text),
    h('span', { class: 'muted note-meta' }, ` ${a.author} · ${when(a.created_at)} · ${t(`role.${a.min_role}`)}`),
    h('button', { class: 'note-delete', title: t('annotate.delete'), onclick: () => remove(a.id) }, '×'))));
}

function center(geometry) {
  if (geometry.type === 'Point') return geometry.coordinates;
  const ring = geometry.coordinates[0];
  const xs = ring.map((p) => p[0]);
  const ys = ring.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

async function remove(id) {
  try {
    await api.deleteAnnotation(id);
  } catch (err) {
    $('annotation-message').textContent = err.message;
    return;
  }
  await refreshAnnotations();
}

function start() {
  state.annotating = { points: [] };
  $('annotate-toggle').classList.add('on');
  const form = $('annotation-form');
  form.hidden = false;
  $('annotation-message').textContent = '';
  $('annotation-text').value = '';
  // readers at or below the caller's role; anonymous callers cannot write at all
  const mine = ROLES.indexOf(state.annotationRole ?? 'anonymous');
  replace($('annotation-role'), ROLES.slice(0, Math.max(mine, 0) + 1).map((r) => h('option', { value: r }, t(`role.${r}`))));
  $('annotation-role').value = ROLES[Math.max(mine, 0)];
  if (mine < 1) $('annotation-message').textContent = t('annotate.needkey');
  onMapClick((lonlat) => {
    state.annotating.points.push([lonlat[0], lonlat[1]]);
    form.dataset.points = String(state.annotating.points.length);
    redraw();
  });
  redraw();
}

function stop() {
  state.annotating = null;
  onMapClick(null);
  $('annotate-toggle').classList.remove('on');
  $('annotation-form').hidden = true;
  redraw();
}

async function save(e) {
  e.preventDefault();
  const geometry = draftGeometry(state.annotating?.points || []);
  const message = $('annotation-message');
  if (!geometry) {
    message.textContent = t('annotate.place');
    return;
  }
  const body = { text: $('annotation-text').value, geometry, min_role: $('annotation-role').value };
  try {
    const made = await api.addAnnotation(body);
    $('annotation-form').dataset.saved = made.id;
  } catch (err) {
    message.textContent = err instanceof ApiError && (err.status === 401 || err.status === 403)
      ? `${t('annotate.needkey')} (${err.message})` : err.message;
    return;
  }
  stop();
  await refreshAnnotations();
}

/** Wire the annotation tool. */
export function initAnnotate() {
  $('annotate-toggle').addEventListener('click', () => (state.annotating ? stop() : start()));
  $('annotation-cancel').addEventListener('click', stop);
  $('annotation-form').addEventListener('submit', save);
}
