// The guide on a phone-sized screen (390×844, touch): part 1 again (the
// same words, every control reachable), then My Account and every page of
// the admin console. No page may be wider than the phone's screen: every
// page visited is measured (document.documentElement.scrollWidth ≤ 390,
// WCAG 1.4.10 reflow).
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

const wide = [];
let measured = 0;

// measure records a Gatehouse page wider than the phone.
async function measure(label) {
  const { g, page } = ctx;
  if (!page.url().startsWith(g.issuer)) return; // the demo app is not Gatehouse's page
  const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
  measured++;
  if (scroll > PHONE.width) wide.push(`${label} (${page.url()}): ${scroll}px wide on a ${PHONE.width}px screen`);
}

// visit opens a Gatehouse page and checks it like every step.
async function visit(path, h1, label = h1) {
  const { w, g, page } = ctx;
  const res = await page.goto(g.issuer + path);
  assert.equal(res.status(), 200, `${path}: ${res.status()}`);
  await f.heading(page, h1, 1);
  await w.step(label);
}

ctx.step('1 at 390×844: sign in, register the app and the phone, Done, acr mfa', async () => {
  const { w, g, page } = ctx;
  w.onStep = measure;
  assert.deepEqual(page.viewportSize(), PHONE);
  await f.openDemoAndSignIn(w, g);
  await f.enterUsername(w, UPN);
  await f.enterPassword(w, PASSWORD);
  await f.register(w, g, { upn: UPN, number: '(704) 555-0112' });
  await f.signedInWith(w, { upn: UPN, acr: 'mfa', amr: ['pwd', 'otp', 'sms', 'mfa'] });
});

ctx.step('2 at 390×844: My Account, recovery codes (shown once, printable) and + Add method', async () => {
  const { page } = ctx;
  await visit('/account', 'My Account');
  await page.getByRole('button', { name: /^Delete / }).first().waitFor();
  await page.getByRole('button', { name: 'Get recovery codes' }).click();
  await f.heading(page, 'Your recovery codes', 1);
  const codes = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
  assert.equal(codes.length, 10);
  for (const c of codes) assert.match(c, /^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
  const download = page.getByRole('link', { name: 'Download codes (text file)' });
  assert.match(await download.getAttribute('href'), /^data:text\/plain;charset=utf-8,/);
  await ctx.w.step('Recovery codes');
  // Printed, the page is the codes and how to use them: no links or buttons.
  await page.emulateMedia({ media: 'print' });
  assert.ok(!(await download.isVisible()), 'the download link is not printed');
  assert.ok(!(await page.getByRole('link', { name: 'Done' }).isVisible()), 'Done is not printed');
  await page.emulateMedia({ media: 'screen' });
  await page.getByRole('link', { name: 'Done' }).click();
  await f.heading(page, 'My Account', 1);
  await page.getByText('You have 10 of 10 recovery codes left.').waitFor();
  for (const c of codes) assert.ok(!(await page.content()).includes(c), 'My Account never shows a code again');
  await page.getByRole('link', { name: '+ Add method' }).click();
  await page.getByLabel('Which method would you like to add?').waitFor();
  await ctx.w.step('My Account: + Add method');
  await visit('/account/password', 'Change password');
});

ctx.step('3 at 390×844: every page of the admin console', async () => {
  const { g, page } = ctx;
  await g.cli(['users', 'set-roles', 'pat', '--role', 'admin']);
  const me = JSON.parse(await g.cli(['users', 'get', 'pat', '--output', 'json']));
  const app = g.client.client_id;
  const name = 'Gatehouse demo app';
  await page.goto(`${g.issuer}/admin/login`);
  await f.heading(page, 'Admin console', 1);
  await ctx.w.step('Admin console');
  await visit('/admin/users', 'Users');
  await visit(`/admin/users/${me.id}`, 'Pat Phone', 'A user');
  await visit('/admin/users/new', 'Create a user');
  await visit('/admin/clients', 'Applications');
  await visit(`/admin/clients/${app}`, name, 'An application');
  await visit(`/admin/clients/${app}/edit`, `Edit ${name}`, 'Edit an application');
  await visit(`/admin/clients/${app}/rotate-secret`, `Rotate the secret of ${name}?`, 'Rotate a secret');
  await visit(`/admin/clients/${app}/delete`, `Delete ${name}?`, 'Delete an application');
  await visit('/admin/clients/new', 'Register an application');
  await visit('/admin/import', 'Import users');
  await visit('/admin/policies', 'Policies');
  await visit('/admin/policies/default/edit', 'Default policy');
  await visit('/admin/policies/default/history', 'History of default');
  await visit('/admin/registration', 'Registration report');
  await visit('/admin/audit', 'Audit log');
});

ctx.step(`no page was wider than ${PHONE.width}px`, () => {
  assert.ok(measured >= 20, `only ${measured} pages measured`);
  assert.deepEqual(wide, [], 'pages wider than the phone screen');
});

ctx.finalChecks('the phone-sized walk');
