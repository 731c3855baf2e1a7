// Entry point: read settings, load the city, build the deck, wire the controls and the live feed.
import './style.css';
import { api, setApiKey } from './api.js';
import {
  createDeck, deckInstance, flyTo, loadingLayers, loadTileZooms, pickAt, tilesLoading, onAlert, onObservation, project, redraw, refreshSidebar, loadSideData, select, setAsOf,
  setBelow, setMode, state, switchLanguage,
} from './app.js';
import { applyLabels, lang, setLang, t } from './i18n.js';
import { connectEvents } from './live.js';
import { MODES } from './modes.js';
import { debounce } from './ui/dom.js';
import { createMeasureTool } from './ui/measuretool.js';
import { initSearch } from './ui/search.js';
import { initTimeSlider } from './ui/timeslider.js';
import { initialAsOf, loadTimeline } from './timeline.js';
import { clipState } from './clip.js';
import { initAnnotate, refreshAnnotations } from './ui/annotate.js';
import { initCompare } from './ui/compare.js';
import { initSection } from './ui/section.js';

// What the page tests (and a curious user in the console) can read.
window.cim = {
  state, clip: clipState, annotations: [], firstRenderMs: null, dataLoaded: false, selected: null, moving: false, live: false, project, flyTo, select, setMode, tilesLoading, loadingLayers, pickAt,
  get deck() { return deckInstance(); },
};

function readSettings() {
  setApiKey(localStorage.getItem('cim.apiKey') || '');
  state.basemap = localStorage.getItem('cim.basemap') || '';
  setLang(localStorage.getItem('cim.lang') || 'zh');
}

function initSettings() {
  const dialog = document.getElementById('settings');
  const key = document.getElementById('settings-apikey');
  const basemap = document.getElementById('settings-basemap');
  document.getElementById('settings-open').addEventListener('click', () => {
    key.value = localStorage.getItem('cim.apiKey') || '';
    basemap.value = localStorage.getItem('cim.basemap') || '';
    dialog.showModal();
  });
  document.getElementById('settings-form').addEventListener('submit', () => {
    localStorage.setItem('cim.apiKey', key.value.trim());
    localStorage.setItem('cim.basemap', basemap.value.trim());
    window.location.reload();
  });
}

function initControls(measure) {
  const nav = document.getElementById('modes');
  for (const mode of MODES) {
    const b = document.createElement('button');
    b.dataset.mode = mode;
    b.dataset.i18n = `mode.${mode}`;
    b.textContent = t(`mode.${mode}`);
    b.addEventListener('click', () => {
      history.replaceState(null, '', `#${mode}`);
      setMode(mode);
    });
    nav.append(b);
  }
  document.getElementById('lang-toggle').addEventListener('click', () => switchLanguage(lang() === 'zh' ? 'en' : 'zh'));
  document.getElementById('below-toggle').addEventListener('click', () => setBelow(!state.below));
  window.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && measure.active) measure.finish();
  });
  document.getElementById('map').addEventListener('dblclick', () => measure.active && measure.finish());
}

function showFatal(message) {
  const el = document.getElementById('fatal');
  el.hidden = false;
  el.textContent = message;
}

async function start() {
  readSettings();
  applyLabels();
  const measure = createMeasureTool(() => redraw());
  initControls(measure);
  initSettings();
  initCompare();
  initSection();
  initAnnotate();
  let city;
  try {
    city = await api.city();
  } catch (err) {
    showFatal(`${t('error.load')}: ${err.message}`);
    return;
  }
  state.city = city;
  const timeline = loadTimeline(); // the data's own period and the city's clock, beside the first tiles
  document.getElementById('city-name').textContent = city.name || '';
  const fromHash = window.location.hash.slice(1);
  state.mode = MODES.includes(fromHash) ? fromHash : 'plan';
  // TileJSON zoom ranges come in beside the first tiles instead of before them
  const zooms = loadTileZooms().then(redraw);
  const firstRender = new Promise((resolve) => {
    createDeck(city, measure, resolve);
    setTimeout(resolve, 3000);
  });
  const range = await timeline;
  state.asOf = initialAsOf(range); // history opens on its last reading, live data on now
  await setMode(state.mode);
  initSearch(async (r) => {
    window.cim.moving = true; // the flight starts once the feature's height is known
    const feature = await select(r.id);
    flyTo(r.bbox || r.center, { height: Number(feature?.z_max ?? feature?.height) || 0 });
  });
  // Side data and the live feed wait for the first picture: the browser has few connections per host.
  await firstRender;
  const live = document.getElementById('live');
  connectEvents({
    onObservation,
    onAlert,
    onStatus: (ok) => {
      window.cim.live = ok;
      live.classList.toggle('on', ok);
      live.dataset.i18n = ok ? 'live.connected' : 'live.disconnected';
      live.textContent = t(live.dataset.i18n);
    },
  });
  await Promise.all([loadSideData(), zooms, refreshAnnotations()]);
  window.cim.dataLoaded = true;
  refreshSidebar();
  initTimeSlider(range, debounce(setAsOf, 150));
}

start();
