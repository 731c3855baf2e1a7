// Live updates without reload: the server's Server-Sent Events stream (/api/events) carries
// `observation` ({datastream_id, value, time, status}) and `alert` (alert JSON) events.
import { authHeaders, url } from './api.js';

/**
 * Listen to /api/events. Handlers: onObservation(obs), onAlert(alert), onStatus(connected).
 * Without an API key the browser's EventSource does it; with one, a fetch stream carries the
 * X-API-Key header (EventSource cannot), so a role sees the live values of what it may see.
 * Returns a function that closes the stream. Both reconnect after a drop.
 */
export function connectEvents(handlers) {
  const headers = authHeaders();
  if (headers['X-API-Key']) {
    const stop = new AbortController();
    streamWithFetch(handlers, headers, stop.signal);
    return () => stop.abort();
  }
  if (typeof EventSource === 'undefined') return () => {};
  const source = new EventSource(url('/api/events'));
  source.addEventListener('open', () => handlers.onStatus?.(true));
  source.addEventListener('error', () => handlers.onStatus?.(source.readyState === EventSource.OPEN));
  for (const kind of ['observation', 'alert']) {
    source.addEventListener(kind, (e) => dispatch({ event: kind, data: e.data }, handlers));
  }
  return () => source.close();
}

async function streamWithFetch(handlers, headers, signal) {
  let retry = 3000;
  while (!signal.aborted) {
    try {
      const res = await fetch(url('/api/events'), { headers: { ...headers, Accept: 'text/event-stream' }, signal });
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      handlers.onStatus?.(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parseEvents(rest + value);
        rest = parsed.rest;
        for (const message of parsed.messages) {
          if (message.retry) retry = message.retry;
          else dispatch(message, handlers);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    handlers.onStatus?.(false);
    await new Promise((resolve) => setTimeout(resolve, retry));
  }
}

function dispatch(message, handlers) {
  let data;
  try {
    data = JSON.parse(message.data);
  } catch {
    return;
  }
  if (message.event === 'observation') handlers.onObservation?.(data);
  else if (message.event === 'alert') handlers.onAlert?.(data);
}

/**
 * Split Server-Sent Events text into complete messages [{event, data} | {retry}] and the
 * unfinished rest (text after the last blank line). Comments (":") are skipped.
 */
export function parseEvents(text) {
  const normal = text.replace(/\r\n?/g, '\n');
  const blocks = normal.split('\n\n');
  const rest = blocks.pop();
  const messages = [];
  for (const block of blocks) {
    let event = 'message';
    const data = [];
    let retry = null;
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
    }
    if (data.length) messages.push({ event, data: data.join('\n') });
    else if (retry !== null) messages.push({ retry });
  }
  return { messages, rest };
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
