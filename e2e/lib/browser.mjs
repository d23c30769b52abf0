// Debian's Chromium driven by playwright-core, an axe-core check on every
// page, and the screenshots the user guide is made from.
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { REPO } from './gatehouse.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOTS = path.join(REPO, 'docs', 'screenshots');
export const DESKTOP = { width: 800, height: 900 };
export const PHONE = { width: 390, height: 844 };

// Bounded waits everywhere: one action or assertion never hangs a run.
export const ACTION_TIMEOUT = 10_000;

// launch starts a headless Chromium with a fresh, temporary profile (what
// chromium.launch gives every browser it starts).
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
}

// newPage opens a context whose every request must stay on localhost: a
// request anywhere else is aborted and recorded, and the test fails on it.
export async function newPage(browser, { viewport = DESKTOP, isMobile = false } = {}) {
  const context = await browser.newContext({
    viewport, isMobile, hasTouch: isMobile, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'America/New_York',
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(ACTION_TIMEOUT);
  context.setDefaultNavigationTimeout(15_000);
  const offsite = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (['localhost', '127.0.0.1', '[::1]'].includes(u.hostname) || u.protocol === 'data:') return route.continue();
    offsite.push(u.href);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  return { context, page, offsite };
}

// A11y collects axe-core results over a walk; serious and critical
// violations fail the test at the end, all listed with page and element.
export class A11y {
  constructor() {
    this.pages = [];
    this.problems = [];
  }

  async check(page, label) {
    const res = await new AxeBuilder({ page }).analyze();
    this.pages.push(label);
    for (const v of res.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      this.problems.push({
        page: label, url: page.url(), rule: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })),
      });
    }
    return res;
  }

  report() {
    return this.problems.map((p) => [
      `- [${p.impact}] ${p.rule}: ${p.help} — on "${p.page}" (${p.url})`,
      ...p.nodes.map((n) => `    ${n.target}: ${n.html}\n      ${(n.summary ?? '').replace(/\n/g, '\n      ')}`),
    ].join('\n')).join('\n');
  }

  assertClean() {
    if (this.problems.length) {
      throw new Error(`axe-core found ${this.problems.length} serious or critical accessibility violation(s) on ${this.pages.length} pages checked:\n${this.report()}`);
    }
  }
}

// Walk ties a page to its accessibility checks and screenshots.
export class Walk {
  constructor(page, { a11y = new A11y(), shots = true } = {}) {
    this.page = page;
    this.a11y = a11y;
    this.shots = shots;
    this.taken = [];
  }

  // step checks the page with axe and, given a name, saves a viewport
  // screenshot as docs/screenshots/<name>.png.
  async step(label, name) {
    await this.page.waitForLoadState('load');
    await this.a11y.check(this.page, label);
    if (name && this.shots) {
      await mkdir(SCREENSHOTS, { recursive: true });
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await this.page.screenshot({ path: file, animations: 'disabled', caret: 'hide', scale: 'css' });
      this.taken.push(name);
    }
  }
}
