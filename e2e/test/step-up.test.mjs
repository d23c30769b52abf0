// Step-up, under a policy where apps do not all require MFA: one method
// (the app) is required, with skips allowed. A password-only session asked
// for acr_values=mfa gets only the code, not the password again; and
// "Skip setup" appears with the skips left.
import assert from 'node:assert/strict';
import { setup } from '../lib/harness.mjs';
import * as f from '../lib/flows.mjs';
import { AuthenticatorApp, keyFrom } from '../lib/totp.mjs';

const PASSWORD = 'correct horse battery';

const ctx = setup({
  shots: false,
  gatehouse: {
    mfa: { require_for_all_clients: false, required_methods: 1, registration_order: ['app'], grace: { skips: 2 } },
    users: [
      { username: 'terry', name: 'Terry Teacher', email: 'terry@home.example', password: PASSWORD },
      { username: 'ivy', name: 'Ivy Intern', email: 'ivy@home.example', password: PASSWORD },
    ],
  },
});
let app;

ctx.step('Skip setup while a grace allows it: the skips left count down, the session is password-only', async () => {
  const { w, g, page } = ctx;
  for (const left of ['2 skips left', '1 skip left']) {
    await f.openDemoAndSignIn(w, g);
    await f.enterUsername(w, 'ivy');
    await f.enterPassword(w, PASSWORD);
    await f.heading(page, 'More information required', 1);
    await w.step(`More information required (${left})`);
    await page.getByRole('button', { name: 'Next' }).click();
    await f.heading(page, 'Method 1 of 1: App', 2);
    await page.getByRole('button', { name: `Skip setup (${left})` }).click();
    await f.signedInWith(w, { upn: 'ivy@district.example', acr: 'pwd', amr: ['pwd'] });
    await f.signOut(w, g);
  }
});

ctx.step('register the app, then a password-only sign-in (acr pwd)', async () => {
  const { w, g, page } = ctx;
  await f.openDemoAndSignIn(w, g);
  await f.enterUsername(w, 'terry');
  await f.enterPassword(w, PASSWORD);
  await f.heading(page, 'More information required', 1);
  await page.getByRole('button', { name: 'Next' }).click();
  await f.heading(page, 'Method 1 of 1: App', 2);
  await page.getByText("Can't scan image?").click();
  app = new AuthenticatorApp(keyFrom(await page.getByRole('group').filter({ hasText: "Can't scan image?" }).innerText()));
  await page.getByLabel('Enter the 6-digit code shown in the app').fill(await app.code());
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText('App verified. Your authenticator app was registered successfully').waitFor();
  await w.step('App verified (1 of 1)');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText(/Setup is now complete/).waitFor();
  await page.getByRole('button', { name: 'Done' }).click();
  await f.signedInWith(w, { upn: 'terry@district.example', acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });
  await f.signOut(w, g);

  // No app requires MFA here: the next sign-in is the password alone.
  await page.getByRole('link', { name: 'Sign in' }).click();
  await f.enterUsername(w, 'terry');
  await f.enterPassword(w, PASSWORD);
  await f.signedInWith(w, { upn: 'terry@district.example', acr: 'pwd', amr: ['pwd'] });
});

ctx.step('step-up: /login?acr_values=mfa asks only for the code, then acr mfa', async () => {
  const { w, g, page } = ctx;
  await page.goto(`${g.demoURL}/login?acr_values=mfa`);
  await f.heading(page, 'Enter code', 1);
  assert.equal(await page.getByRole('heading', { name: 'Sign in' }).count(), 0);
  assert.equal(await page.getByLabel('Password', { exact: true }).count(), 0, 'no password asked again');
  await page.getByText('Enter the code displayed in the authenticator app on your mobile device.').waitFor();
  await w.step('Step-up: Enter code');
  await page.getByLabel('Code').fill(await app.code());
  await page.getByRole('button', { name: 'Verify' }).click();
  await f.signedInWith(w, { upn: 'terry@district.example', acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });
});

ctx.step('prompt=login asks for the password again', async () => {
  const { w, g, page } = ctx;
  await page.goto(`${g.demoURL}/login?prompt=login`);
  await page.getByRole('heading', { name: /^(Sign in|Enter password)$/, level: 1 }).waitFor();
  if (await page.getByRole('heading', { name: 'Sign in', level: 1 }).count()) await f.enterUsername(w, 'terry');
  await f.enterPassword(w, PASSWORD);
  await f.signedInWith(w, { upn: 'terry@district.example', acr: 'pwd', amr: ['pwd'] });
});

ctx.finalChecks('the step-up walk');
