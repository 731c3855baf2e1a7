// Live updates without reload: the server's Server-Sent Events stream (/api/events) carries
// `observation` ({datastream_id, value, time, status}) and `alert` (alert JSON) events.
import { url } from './api.js';

/**
 * Listen to /api/events. Handlers: onObservation(obs), onAlert(alert), onStatus(connected).
 * Returns a function that closes the stream. EventSource reconnects by itself after a drop.
 */
export function connectEvents({ onObservation, onAlert, onStatus }) {
  if (typeof EventSource === 'undefined') return () => {};
  const source = new EventSource(url('/api/events'));
  const parse = (e) => {
    try {
      return JSON.parse(e.data);
    } catch {
      return null;
    }
  };
  source.addEventListener('open', () => onStatus?.(true));
  source.addEventListener('error', () => onStatus?.(source.readyState === EventSource.OPEN));
  source.addEventListener('observation', (e) => {
    const obs = parse(e);
    if (obs) onObservation?.(obs);
  });
  source.addEventListener('alert', (e) => {
    const alert = parse(e);
    if (alert) onAlert?.(alert);
  });
  return () => source.close();
}

/** Merge one live observation into the latest-values list; returns the sensor it changed or null. */
export function applyObservation(sensors, obs) {
  const s = sensors.find((x) => String(x.datastream_id) === String(obs.datastream_id));
  if (!s) return null;
  if (obs.time && s.time && Date.parse(obs.time) < Date.parse(s.time)) return null;
  s.value = obs.value;
  s.time = obs.time ?? s.time;
  s.status = obs.status ?? s.status;
  return s;
}

const RANK = { ok: 0, stale: 1, warn: 2, alarm: 3 };

/** An open alert raises its sensor's status to the alert's level; returns the sensor changed or null. */
export function applyAlertToSensor(sensors, alert) {
  if (alert.state === 'closed') return null;
  const s = sensors.find((x) => String(x.datastream_id) === String(alert.datastream_id));
  if (!s || (RANK[alert.level] ?? 0) <= (RANK[s.status] ?? 0)) return null;
  s.status = alert.level;
  return s;
}

/** Merge one alert event into the open-alerts list: open and acknowledged ones stay, closed ones leave. */
export function applyAlert(alerts, alert) {
  const rest = alerts.filter((a) => String(a.id) !== String(alert.id));
  return alert.state === 'closed' ? rest : [alert, ...rest];
}
