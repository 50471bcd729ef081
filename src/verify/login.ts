import { ask, type Reach } from './http.ts';
import { snippet } from './expect.ts';

/** A password login through the client API, as a client does it; the session is logged out again. */
export async function passwordLogin(baseUrl: string, user: string, password: string, reach: Reach): Promise<string> {
  const root = baseUrl.replace(/\/+$/, '');
  const a = await ask(`${root}/_matrix/client/v3/login`, reach, {
    method: 'POST',
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, initial_device_display_name: 'mxplay verify' },
  });
  if (a.status !== 200 || typeof a.json?.access_token !== 'string') {
    const why = a.json?.errcode ? `${a.json.errcode}: ${a.json.error ?? ''}` : snippet(a.body);
    throw new Error(`login as ${user} refused: HTTP ${a.status}, ${why}`);
  }
  const out = await ask(`${root}/_matrix/client/v3/logout`, reach, { method: 'POST', body: {}, headers: { authorization: `Bearer ${a.json.access_token}` } });
  return `logged in as ${a.json.user_id}${out.status === 200 ? ' (and out)' : `; logout answered HTTP ${out.status}`}`;
}
