// Shared helpers for the AuthOS k6 scenarios. Not a scenario itself.
//
// Every scenario reads BASE_URL (default http://127.0.0.1:8080) and refuses
// any host that is not loopback (127.0.0.0/8, ::1, localhost), like the Go
// runner: these scripts must never send load to another machine.
import http from 'k6/http';
import { fail } from 'k6';

// env returns the environment variable name, or def when it is unset or empty.
export function env(name, def) {
  const v = __ENV[name];
  return v === undefined || v === '' ? def : v;
}

// num returns the environment variable name as a positive number, or def.
export function num(name, def) {
  const raw = env(name, undefined);
  if (raw === undefined) {
    return def;
  }
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  }
  return n;
}

// requireEnv returns the environment variable name or throws when it is unset.
export function requireEnv(name) {
  const v = env(name, undefined);
  if (v === undefined) {
    throw new Error(`${name} is required (k6 run -e ${name}=...)`);
  }
  return v;
}

// isLoopbackHost reports whether host (no port, IPv6 without brackets) is
// localhost or a loopback IP literal.
export function isLoopbackHost(host) {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') {
    return true;
  }
  const m = /^(?:::ffff:)?127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

// loopbackBaseURL validates raw and returns it without a trailing slash.
export function loopbackBaseURL(raw) {
  const m = /^https?:\/\/(\[[^\]]+\]|[^/:?#]+)(:\d+)?(\/[^?#]*)?$/.exec(raw);
  if (m === null) {
    throw new Error(`BASE_URL "${raw}" must look like http://127.0.0.1:8080`);
  }
  const host = m[1].replace(/^\[|\]$/g, '');
  if (!isLoopbackHost(host)) {
    throw new Error(
      `BASE_URL host "${host}" is not loopback (127.0.0.0/8, ::1 or localhost); these scripts never send load to other machines`
    );
  }
  return raw.replace(/\/+$/, '');
}

export const BASE_URL = loopbackBaseURL(env('BASE_URL', 'http://127.0.0.1:8080'));

export const JSON_HEADERS = { 'Content-Type': 'application/json' };

// seconds parses a k6 duration such as "90s", "2m" or "1m30s".
export function seconds(duration) {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  let consumed = 0;
  let m;
  while ((m = re.exec(duration)) !== null) {
    total += Number(m[1]) * unit[m[2]];
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== duration.length) {
    throw new Error(`invalid duration "${duration}"`);
  }
  return total;
}

// arrivalScenario is a constant-arrival-rate (open model) scenario: k6
// starts `rate` iterations per second whether or not earlier ones finished,
// so a slow server cannot slow the load down (no coordinated omission).
export function arrivalScenario(rate, duration, preAllocatedVUs, maxVUs) {
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs,
    maxVUs,
    gracefulStop: '10s',
  };
}

// maxDropped is the number of iterations k6 may drop (because every VU was
// busy) while still holding the target rate within 1%.
export function maxDropped(rate, duration) {
  return Math.ceil(rate * seconds(duration) * 0.01);
}

// loginBody is the JSON body of POST /api/auth/login from EMAIL and PASSWORD.
export function loginBody() {
  return JSON.stringify({ email: requireEnv('EMAIL'), password: requireEnv('PASSWORD') });
}

// loginSessions logs in n sessions from setup(), in parallel batches, and
// aborts the test on the first refused login. Its requests are tagged
// name=setup_login so no threshold counts them.
export function loginSessions(n) {
  const body = loginBody();
  const params = { headers: JSON_HEADERS, tags: { name: 'setup_login' }, responseType: 'text' };
  const sessions = [];
  for (let start = 0; start < n; start += 20) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + 20); i++) {
      batch.push(['POST', `${BASE_URL}/api/auth/login`, body, params]);
    }
    for (const res of http.batch(batch)) {
      if (res.status !== 200) {
        fail(`setup login: status ${res.status}: ${res.body}`);
      }
      const tokens = res.json();
      if (!tokens.access_token || !tokens.refresh_token) {
        fail('setup login returned no tokens (is MFA enabled on the account?)');
      }
      sessions.push({ access_token: tokens.access_token, refresh_token: tokens.refresh_token });
    }
  }
  return sessions;
}
