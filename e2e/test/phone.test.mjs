// Part 1 of the guide again, on a phone-sized screen (390×844, touch): the
// same words, every control reachable, and no Gatehouse page wider than the
// screen (WCAG 1.4.10 reflow).
import assert from 'node:assert/strict';
import { setup } from '../lib/harness.mjs';
import { PHONE } from '../lib/browser.mjs';
import * as f from '../lib/flows.mjs';

const UPN = 'pat@district.example';
const PASSWORD = 'correct horse battery';

const ctx = setup({
  viewport: PHONE, isMobile: true, shots: false,
  gatehouse: { users: [{ username: 'pat', name: 'Pat Phone', email: 'pat@home.example', password: PASSWORD }] },
});

ctx.step('1 at 390×844: sign in, register the app and the phone, Done, acr mfa; no page scrolls sideways', async () => {
  const { w, g, page } = ctx;
  const wide = [];
  w.onStep = async (label) => {
    if (!page.url().startsWith(g.issuer)) return; // the demo app is not Gatehouse's page
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
    }));
    if (scroll > client) wide.push(`${label}: ${scroll}px wide in a ${client}px window`);
  };
  assert.deepEqual(page.viewportSize(), PHONE);
  await f.openDemoAndSignIn(w, g);
  await f.enterUsername(w, UPN);
  await f.enterPassword(w, PASSWORD);
  await f.register(w, g, { upn: UPN, number: '(704) 555-0112' });
  await f.signedInWith(w, { upn: UPN, acr: 'mfa', amr: ['pwd', 'otp', 'sms', 'mfa'] });
  assert.deepEqual(wide, [], 'pages wider than the phone screen');
});

ctx.finalChecks('the phone-sized walk');
