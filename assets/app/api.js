// The API client: same-origin JSON, the session cookie, CSRF on mutating calls with one retry
// on 403 (fresh token from the response header or cookie), 401 → back to the login page.

export class ApiError extends Error {
  constructor(status, message, data) { super(message); this.status = status; this.data = data; }
}

let unauthorized = () => {};
/** main.js installs what a 401 means (session gone: show the login page). */
export function onUnauthorized(f) { unauthorized = f; }

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)pulse_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

async function parse(r) {
  const text = await r.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

/**
 * `api('/api/x', {method, body, auth: false})`. `auth: false` skips the 401 redirect (status
 * probes, login). Resolves with the parsed body; rejects with ApiError on non-2xx.
 */
export async function api(path, { method = 'GET', body, auth = true } = {}) {
  const headers = { 'X-Requested-With': 'XMLHttpRequest', Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const mutating = !['GET', 'HEAD', 'OPTIONS'].includes(method);
  let token = mutating ? csrfToken() : '';
  for (let attempt = 0; ; attempt++) {
    if (token) headers['X-CSRF-Token'] = token;
    const r = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status === 403 && mutating && attempt === 0) {
      const fresh = r.headers.get('X-CSRF-Token') || csrfToken();
      if (fresh && fresh !== token) { token = fresh; continue; }
    }
    const data = await parse(r);
    if (r.status === 401 && auth) unauthorized('Your session has ended. Please sign in again.');
    if (!r.ok) {
      const msg = (data && (data.error || data.message)) || (typeof data === 'string' ? data : r.statusText);
      throw new ApiError(r.status, msg, data);
    }
    return data;
  }
}
