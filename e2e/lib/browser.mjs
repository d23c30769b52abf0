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
// The phone-sized walk: an iPhone 12-15 class screen in CSS pixels.
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

// KNOWN are serious violations already reported, each matched narrowly (one
// rule, one element, on a page that is not one of Gatehouse's own): they are
// printed with every run but do not fail it. A violation on any Gatehouse
// page always fails. Remove an entry once its page is fixed.
export const KNOWN = [];

// A11y collects axe-core results over a walk; serious and critical
// violations fail the test at the end, all listed with page and element.
export class A11y {
  constructor() {
    this.pages = [];
    this.problems = [];
    this.known = [];
    this.minor = []; // moderate and minor: reported, not failing
  }

  async check(page, label) {
    const res = await new AxeBuilder({ page }).analyze();
    this.pages.push(label);
    for (const v of res.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') {
        this.minor.push(`[${v.impact}] ${v.id} on "${label}": ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
        continue;
      }
      const nodes = v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary }));
      const problem = { page: label, url: page.url(), rule: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, nodes };
      const known = KNOWN.find((k) => k.rule === v.id && k.page.test(label) && nodes.every((n) => n.target === k.target));
      if (known) this.known.push({ ...problem, why: known.why });
      else this.problems.push(problem);
    }
    return res;
  }

  knownReport() {
    return this.known.map((p) => `known, not failing: [${p.impact}] ${p.rule} on "${p.page}" — ${p.why}`);
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
  // screenshot as docs/screenshots/<name>.png. On a page taller than the
  // window, scrollTo (a locator) is brought to the top of the picture.
  async step(label, name, { scrollTo } = {}) {
    await this.page.waitForLoadState('load');
    await this.a11y.check(this.page, label);
    if (this.onStep) await this.onStep(label);
    if (name && this.shots) {
      if (scrollTo) await scrollTo.evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await mkdir(SCREENSHOTS, { recursive: true });
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await this.page.screenshot({ path: file, animations: 'disabled', caret: 'hide', scale: 'css' });
      this.taken.push(name);
    }
  }
}
