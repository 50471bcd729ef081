// Debian's Chromium, headless, driven by puppeteer-core on the control machine (no browser is
// downloaded). The browser reaches lab hosts only under the names it is given (no DNS, no other
// name resolves), and trusts only the CAs it is given, through a real NSS trust store in its own
// HOME: never --ignore-certificate-errors. Everything it leaves (profile, HOME) lives in one temp
// folder that close() removes after the browser process is gone, also when a test failed.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type HTTPResponse, type Page } from 'puppeteer-core';

export const CHROMIUM = '/usr/bin/chromium';
const exec = promisify(execFile);

/** Something the browser reported while pages were open. */
export interface BrowserEvent {
  kind: 'console' | 'pageerror' | 'requestfailed' | 'http-error';
  /** console: the message type (error, warn, log ...); http-error: the status */
  detail: string;
  text: string;
  url: string;
}

export interface LabBrowser {
  /** A new tab whose console, page errors, failed requests and HTTP errors land in `events`. */
  newPage(): Promise<Page>;
  readonly events: BrowserEvent[];
  /** Kills the browser (gently, then for sure) and removes its temp folder. Safe to call twice. */
  close(): Promise<void>;
}

export interface LabBrowserOptions {
  /** host name -> IP; every other name fails to resolve. */
  hosts: Record<string, string>;
  /** PEM certificates trusted as CAs for TLS servers. */
  cas: Record<string, string>;
}

export async function startBrowser(o: LabBrowserOptions): Promise<LabBrowser> {
  const tmp = await mkdtemp(join(tmpdir(), 'mxplay-browser-'));
  let browser: Browser | undefined;
  const events: BrowserEvent[] = [];
  let closed = false;

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    const proc = browser?.process();
    // A gentle close first (the profile is thrown away anyway, so not for long) ...
    if (browser) await Promise.race([browser.close().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
    // ... then the whole process group (puppeteer starts Chromium detached, as a group leader).
    if (proc?.pid && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        proc.kill('SIGKILL');
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    await rm(tmp, { recursive: true, force: true });
  }

  try {
    // The NSS db Chromium reads on Linux: $HOME/.pki/nssdb. Trust flag C: a CA for TLS servers.
    const home = join(tmp, 'home');
    const nssdb = `sql:${join(home, '.pki', 'nssdb')}`;
    await mkdir(join(home, '.pki', 'nssdb'), { recursive: true });
    await exec('certutil', ['-d', nssdb, '-N', '--empty-password']);
    for (const [name, pem] of Object.entries(o.cas)) {
      const file = join(tmp, `ca-${Object.keys(o.cas).indexOf(name)}.pem`);
      await writeFile(file, pem);
      await exec('certutil', ['-d', nssdb, '-A', '-t', 'C,,', '-n', name, '-i', file]);
    }
    const rules = [...Object.entries(o.hosts).map(([n, ip]) => `MAP ${n} ${ip}`), 'MAP * ~NOTFOUND'].join(', ');
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      pipe: true, // DevTools over a pipe: no debugging port open on the machine
      userDataDir: join(tmp, 'profile'),
      env: { ...process.env, HOME: home },
      // The test owns the lifetime (close() above), not signal handlers puppeteer would install.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: 60_000,
      protocolTimeout: 120_000,
      args: [
        '--no-sandbox', // root on the control machine: Chromium's sandbox refuses to run as root
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-proxy-server',
        `--host-resolver-rules=${rules}`,
      ],
    });
  } catch (e) {
    await close();
    throw e;
  }
  const b = browser;

  return {
    events,
    close,
    async newPage() {
      const page = await b.newPage();
      page.on('console', (m) => events.push({ kind: 'console', detail: m.type(), text: m.text(), url: m.location().url ?? '' }));
      page.on('pageerror', (e) => events.push({ kind: 'pageerror', detail: 'error', text: e instanceof Error ? `${e.name}: ${e.message}` : String(e), url: page.url() }));
      page.on('requestfailed', (r) => events.push({ kind: 'requestfailed', detail: r.failure()?.errorText ?? 'failed', text: `${r.method()} ${r.url()}`, url: r.url() }));
      page.on('response', (r) => {
        if (r.status() >= 400) events.push({ kind: 'http-error', detail: String(r.status()), text: `${r.request().method()} ${r.url()}`, url: r.url() });
      });
      return page;
    },
  };
}

/**
 * page.goto, loaded again when Chromium gives the load up with ERR_NETWORK_CHANGED: the lab hosts of
 * the test files running beside this one come and go on this machine, and Chromium takes their links
 * appearing for a change of network (a person would reload). Any other failure is the test's.
 */
export async function loadPage(page: Page, url: string): Promise<HTTPResponse | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    } catch (e) {
      if (attempt >= 3 || !(e as Error).message.includes('net::ERR_NETWORK_CHANGED')) throw e;
    }
  }
}

/** One line per event, for assertion messages. */
export function describeEvents(events: readonly BrowserEvent[]): string {
  return events.map((e) => `${e.kind} ${e.detail}: ${e.text}${e.url && !e.text.includes(e.url) ? ` (${e.url})` : ''}`).join('\n');
}

/** PNG signature, then the IHDR chunk's width and height; undefined when it is no PNG. */
export function pngSize(b: Buffer): { width: number; height: number } | undefined {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (b.length < 24 || !b.subarray(0, 8).equals(sig) || b.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}
