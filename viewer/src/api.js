// The viewer's only way to the city: the HTTP contract served by `cim serve` (same origin).

const settings = { apiKey: '' };

/** Use `key` as X-API-Key on every request from now on ('' = anonymous). */
export function setApiKey(key) {
  settings.apiKey = key || '';
}

/** Headers every request carries (the API key when one is set). */
export function authHeaders() {
  return settings.apiKey ? { 'X-API-Key': settings.apiKey } : {};
}

/** Absolute URL on this server for a path like '/api/city' with optional query parameters. */
export function url(path, params) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u.toString();
}

export class ApiError extends Error {
  constructor(status, title, path) {
    super(`${path}: ${status} ${title}`);
    this.status = status;
    this.path = path;
  }
}

/** GET JSON from the server; problem+json errors become ApiError with the server's title. */
export async function getJSON(path, params, { signal } = {}) {
  const res = await fetch(url(path, params), { headers: { Accept: 'application/json', ...authHeaders() }, signal });
  if (!res.ok) {
    let title = res.statusText;
    try {
      const body = await res.json();
      title = body.detail || body.title || title;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, title, path);
  }
  return res.json();
}

/** GET JSON, or `fallback` when the server answers 404 (an optional part not installed). */
export async function getOptional(path, params, fallback) {
  try {
    return await getJSON(path, params);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 501)) return fallback;
    throw err;
  }
}

/** Send JSON (POST, PATCH) or nothing (DELETE); problem+json errors become ApiError. */
export async function sendJSON(method, path, body) {
  const headers = { Accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    let title = res.statusText;
    try {
      const problem = await res.json();
      title = problem.detail || problem.title || title;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, title, path);
  }
  return res.status === 204 ? null : res.json();
}

let described = null;
/**
 * The paths this server describes in its OpenAPI document (/api), asked once; null when it cannot
 * be read. Optional endpoints (versions, diffs, proposals) are asked for only when listed, so a
 * server without them costs no failed request.
 */
export function serverPaths() {
  described ??= getJSON('/api').then((doc) => new Set(Object.keys(doc?.paths || {}))).catch(() => null);
  return described;
}

/** GET an optional endpoint `path` (its OpenAPI template in `template`): `fallback` when the server lacks it. */
async function ifServed(template, path, params, fallback) {
  const paths = await serverPaths();
  if (paths && !paths.has(template)) return fallback;
  return getOptional(path, params, fallback);
}

export const api = {
  city: () => getJSON('/api/city'),
  collections: () => getOptional('/collections', null, null),
  collection: (layer) => getOptional(`/collections/${encodeURIComponent(layer)}`, null, null),
  items: (layer, params) => getJSON(`/collections/${encodeURIComponent(layer)}/items`, params),
  feature: (id) => getJSON(`/api/features/${encodeURIComponent(id)}`),
  search: (q, limit = 10) => getJSON('/api/search', { q, limit }),
  kpis: (mode, at) => getOptional('/api/kpis', { mode, at }, []),
  compliance: () => getOptional('/api/compliance', null, { features: [] }),
  sensorsLatest: (bbox, at) => getOptional('/api/sensors/latest', { bbox: bbox?.join(','), at }, []),
  series: (id, params) => getJSON(`/api/sensors/${encodeURIComponent(id)}/series`, params),
  alerts: (at) => getOptional('/api/alerts', at ? { at } : { current: true }, []),
  period: () => getOptional('/api/sensors/period', null, null),
  // compare (docs/compare.md): null when the server has no such endpoint
  versions: (layer) => ifServed('/api/versions', '/api/versions', { layer }, null),
  diff: (layer, from, to) => ifServed('/collections/{layer}/diff', `/collections/${encodeURIComponent(layer)}/diff`,
    { from, to, f: 'geojson' }, null),
  proposals: () => ifServed('/api/proposals', '/api/proposals', null, null),
  proposalFeatures: (name) => ifServed('/api/proposals/{name}/features',
    `/api/proposals/${encodeURIComponent(name)}/features`, null, null),
  // annotations (批注)
  annotations: (params) => getOptional('/api/annotations', params, null),
  addAnnotation: (body) => sendJSON('POST', '/api/annotations', body),
  deleteAnnotation: (id) => sendJSON('DELETE', `/api/annotations/${encodeURIComponent(id)}`),
  population: (by = 'grid', cell = 200) => getOptional('/api/people/population', { by, cell }, null),
};
