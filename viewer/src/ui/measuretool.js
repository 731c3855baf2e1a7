// The measuring tool: click points on the map; the geodesic length (distance), the area, or the
// height difference between two picked points (on a roof, on the ground, on a BIM element) is shown.
import { t } from '../i18n.js';
import { formatArea, formatHeight, formatLength, heightDifference, pathLength, polygonArea } from '../measure.js';

/** Measuring state and its readout; `redraw()` is called whenever the points change. */
export function createMeasureTool(redraw) {
  const tool = { kind: null, points: [], active: false };
  const readout = document.getElementById('measure-readout');
  const buttons = document.querySelectorAll('[data-measure]');

  const show = () => {
    buttons.forEach((b) => b.classList.toggle('on', tool.active && b.dataset.measure === tool.kind));
    if (!tool.kind) {
      readout.hidden = true;
      return;
    }
    readout.hidden = false;
    if (tool.kind === 'height') {
      showHeight();
      return;
    }
    const length = pathLength(tool.points);
    const parts = [`${t('tool.measure.distance')}: ${formatLength(length)}`];
    if (tool.kind === 'area') parts.push(`${t('tool.measure.area')}: ${formatArea(polygonArea(tool.points))}`);
    readout.querySelector('.value').textContent = parts.join(' · ');
    readout.querySelector('.hint').textContent = tool.active ? t('tool.measure.hint') : '';
    readout.dataset.points = String(tool.points.length);
    readout.dataset.length = String(length);
    readout.dataset.area = String(tool.kind === 'area' ? polygonArea(tool.points) : 0);
  };

  // two points: the elevation of each, their difference, the horizontal distance and the slope
  const showHeight = () => {
    const d = heightDifference(tool.points);
    const one = tool.points.length === 1 ? `${t('tool.measure.elevation')}: ${(tool.points[0][2] || 0).toFixed(1)} m` : '';
    readout.querySelector('.value').textContent = d
      ? `${t('tool.measure.height')}: ${formatHeight(d.dz)} · ${t('tool.measure.elevation')} ${d.from.toFixed(1)} → ${d.to.toFixed(1)} m`
        + ` · ${t('tool.measure.horizontal')} ${formatLength(d.horizontal)} · ${t('tool.measure.slope')} ${d.slope.toFixed(1)}°`
      : one;
    readout.querySelector('.hint').textContent = tool.active ? t('tool.measure.hint.height') : '';
    readout.dataset.points = String(tool.points.length);
    readout.dataset.height = d ? String(d.dz) : '';
    readout.dataset.elevations = JSON.stringify(tool.points.map((p) => p[2] || 0));
  };

  tool.start = (kind) => {
    const same = tool.active && tool.kind === kind;
    tool.kind = same ? null : kind;
    tool.active = !same;
    tool.points = [];
    show();
    redraw();
  };
  tool.add = (lonlat) => {
    if (!tool.active) return false;
    if (tool.kind === 'height') {
      // a third click starts a new pair
      if (tool.points.length >= 2) tool.points = [];
      tool.points.push([lonlat[0], lonlat[1], Number(lonlat[2]) || 0]);
    } else tool.points.push([lonlat[0], lonlat[1]]);
    show();
    redraw();
    return true;
  };
  tool.finish = () => {
    tool.active = false;
    show();
    redraw();
  };
  tool.clear = () => {
    tool.kind = null;
    tool.active = false;
    tool.points = [];
    show();
    redraw();
  };
  tool.relabel = show;
  buttons.forEach((b) => b.addEventListener('click', () => tool.start(b.dataset.measure)));
  readout.querySelector('button').addEventListener('click', tool.clear);
  return tool;
}
