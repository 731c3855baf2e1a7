// The camera: fly-to, mode pitch changes, screen projection and picking helpers.
import { FlyToInterpolator, LinearInterpolator, WebMercatorViewport } from '@deck.gl/core';
import { state } from './state.js';

let deck = null;

/** Give the camera its deck (once, when the deck is made). */
export function setDeck(instance) {
  deck = instance;
}

/** The deck (for the console and the page tests). */
export function deckInstance() {
  return deck;
}

/** Screen position [x, y] of a lon/lat(/z) in the current view (used by the page tests). */
export function project(lon, lat, z = 0) {
  const [x, y] = deck.getViewports()[0].project([lon, lat, z]);
  return [x, y];
}

/** What is under screen point x, y of the map: {layer, coordinate [lon, lat, z]} or null. */
export function pickAt(x, y) {
  const info = deck.pickObject({ x, y, radius: 2, unproject3D: true });
  return info ? { layer: info.layer?.id ?? null, coordinate: info.coordinate ?? null, index: info.index } : null;
}

/** Fly the camera to a bbox [w, s, e, n] or a point; `height` (m) keeps a tall object in view. */
export function flyTo(target, { zoom = 17.5, duration = 900, maxZoom = 19, height = 0 } = {}) {
  const el = document.getElementById('map');
  const width = el.clientWidth || 1280;
  const tall = el.clientHeight || 720;
  let view;
  if (target.length === 4 && (target[0] !== target[2] || target[1] !== target[3])) {
    const vp = new WebMercatorViewport({ width, height: tall });
    view = vp.fitBounds([[target[0], target[1]], [target[2], target[3]]], { padding: 120, maxZoom });
  } else {
    view = { longitude: target[0], latitude: target[1], zoom };
  }
  transitionTo({ longitude: view.longitude, latitude: view.latitude,
    zoom: Math.min(view.zoom, maxZoom, zoomToShowHeight(height, view.latitude, tall)) },
  duration, new FlyToInterpolator());
}

/** Move the camera; window.cim.moving is true until it stands still (at once when nothing changes). */
export function transitionTo(changes, duration, interpolator) {
  const current = state.viewState;
  const differs = Object.entries(changes).some(([k, v]) => Math.abs((current[k] ?? 0) - v) > 1e-9);
  if (!differs) {
    window.cim.moving = false;
    return;
  }
  const stop = () => { window.cim.moving = false; };
  window.cim.moving = true;
  state.viewState = {
    ...current, ...changes, transitionDuration: duration, transitionInterpolator: interpolator,
    onTransitionEnd: stop, onTransitionInterrupt: stop,
  };
  // side by side (compare) the deck holds the view state of both views itself
  if (state.compare?.on && state.compare.view === 'split') deck.setProps({ viewState: { a: state.viewState, b: state.viewState } });
  else deck.setProps({ initialViewState: state.viewState });
}

/** The highest zoom at which an object `height` metres tall fits in a third of the screen height. */
export function zoomToShowHeight(height, latitude, screenHeight) {
  if (!(height > 0)) return 22;
  const worldMetres = 40075016.7 * Math.cos((latitude * Math.PI) / 180);
  return Math.log2((worldMetres * (screenHeight / 3)) / (512 * height));
}

export function setCamera(changes) {
  transitionTo(changes, 600, new LinearInterpolator(['pitch', 'bearing', 'zoom']));
}
