// Glue for node:test: one Gatehouse and one browser per file, steps that
// stop the walk after the first failure (a later step cannot start from a
// page the earlier one never reached), and the page's state printed when a
// step fails.
import { test, before, after } from 'node:test';
import { Gatehouse } from './gatehouse.mjs';
import { launch, newPage, Walk, A11y } from './browser.mjs';

export function setup({ gatehouse, viewport, isMobile, shots = true } = {}) {
  const ctx = { a11y: new A11y() };
  let broken = null;

  before(async () => {
    ctx.g = new Gatehouse(gatehouse); // assigned first, so after() stops what a failed start began
    await ctx.g.start();
    ctx.browser = await launch();
    const { page, context, offsite } = await newPage(ctx.browser, { viewport, isMobile });
    Object.assign(ctx, { page, context, offsite, w: new Walk(page, { a11y: ctx.a11y, shots }) });
  }, { timeout: 360_000 });

  after(async () => {
    await ctx.browser?.close().catch(() => {});
    await ctx.g?.stop();
  }, { timeout: 30_000 });

  // step is a test that is skipped once an earlier step failed.
  ctx.step = (name, fn, { timeout = 120_000 } = {}) => test(name, { timeout }, async (t) => {
    if (broken) {
      t.skip(`skipped: "${broken}" failed`);
      return;
    }
    try {
      await fn(t);
    } catch (err) {
      broken = name;
      await describePage(ctx, err);
      throw err;
    }
  });

  // Run after the walk: what axe found, and whether anything left localhost.
  ctx.finalChecks = (what) => {
    test(`no serious or critical accessibility violations (axe-core) on the pages of ${what}`, (t) => {
      if (!ctx.a11y.pages.length) throw new Error('no page was checked');
      t.diagnostic(`${ctx.a11y.pages.length} pages checked with axe-core`);
      for (const line of new Set(ctx.a11y.knownReport())) t.diagnostic(line);
      for (const line of new Set(ctx.a11y.minor)) t.diagnostic(`not failing: ${line}`);
      ctx.a11y.assertClean();
    });
    test('every request stayed on localhost', () => {
      if (ctx.offsite?.length) throw new Error(`requests left localhost: ${ctx.offsite.join(', ')}`);
    });
  };
  ctx.failed = () => broken;
  return ctx;
}

async function describePage(ctx, err) {
  if (!ctx.page) return;
  try {
    const snapshot = await ctx.page.locator('body').ariaSnapshot({ timeout: 2000 });
    err.message += `\n\nThe page at ${ctx.page.url()}:\n${snapshot}`;
  } catch { /* the page is gone */ }
  if (ctx.g?.log.length) err.message += `\n\nServer output (last lines):\n${ctx.g.log.slice(-20).join('')}`;
}
