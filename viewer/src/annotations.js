// Annotations (批注): notes on a point or an area, stored by the server (/api/annotations) and read
// by role. This module keeps the ones the caller may read and draws them; ui/annotate.js writes them.
import { PolygonLayer, ScatterplotLayer } from '@deck.gl/layers';
import { api } from './api.js';
import { state } from './state.js';

const NOTE_COLOR = [255, 214, 0];

/** Fetch the annotations the caller may read (and the caller's role); null when the server has none. */
export async function loadAnnotations() {
  const answer = await api.annotations({ datetime: state.mapTime || undefined }).catch(() => null);
  state.annotations = answer?.annotations || [];
  state.annotationRole = answer?.role ?? null;
  state.annotationsServed = Boolean(answer);
  window.cim.annotations = state.annotations.map((a) => a.id);
  return answer;
}

/** Deck layers of the annotations: a ring on each point, an outlined area for each area. */
export function annotationLayers() {
  const notes = state.annotations || [];
  const points = notes.filter((a) => a.geometry?.type === 'Point');
  const areas = notes.filter((a) => a.geometry?.type === 'Polygon');
  const draft = state.annotating?.points || [];
  const out = [];
  if (areas.length) {
    out.push(new PolygonLayer({
      id: 'annotation-areas',
      data: areas,
      getPolygon: (a) => a.geometry.coordinates,
      getFillColor: [...NOTE_COLOR, 50],
      getLineColor: [...NOTE_COLOR, 255],
      lineWidthMinPixels: 2,
      pickable: true,
      parameters: { depthCompare: 'always' },
    }));
  }
  if (points.length) {
    out.push(new ScatterplotLayer({
      id: 'annotation-points',
      data: points,
      getPosition: (a) => a.geometry.coordinates,
      getRadius: 6,
      radiusUnits: 'pixels',
      getFillColor: [...NOTE_COLOR, 230],
      getLineColor: [40, 40, 40, 255],
      stroked: true,
      lineWidthMinPixels: 2,
      pickable: true,
      parameters: { depthCompare: 'always' },
    }));
  }
  if (draft.length) {
    out.push(new ScatterplotLayer({
      id: 'annotation-draft',
      data: draft,
      getPosition: (p) => p,
      getRadius: 5,
      radiusUnits: 'pixels',
      getFillColor: [255, 255, 255, 255],
      getLineColor: [...NOTE_COLOR, 255],
      stroked: true,
      lineWidthMinPixels: 2,
      parameters: { depthCompare: 'always' },
    }));
  }
  return out;
}

/** The GeoJSON of a draft: a Point for one click, a closed Polygon for three or more. */
export function draftGeometry(points) {
  if (points.length === 1) return { type: 'Point', coordinates: points[0] };
  if (points.length >= 3) return { type: 'Polygon', coordinates: [[...points, points[0]]] };
  return null;
}

/** Tooltip text of an annotation. */
export function annotationTip(a) {
  return `${a.text}\n${a.author} · ${a.created_at?.slice(0, 16).replace('T', ' ')}`;
}
