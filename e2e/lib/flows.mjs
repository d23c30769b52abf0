// The guide's steps, written once and walked by several tests. Elements are
// found only by role and accessible name, label or visible text: if the
// guide's words are not on the screen, the walk stops there.
import assert from 'node:assert/strict';
import { AuthenticatorApp, keyFrom } from './totp.mjs';

// shot(name) names the picture of a step, or nothing when the walk takes
// no pictures (the phone-sized and keyboard walks).
const name = (prefix, n) => (prefix === null ? undefined : `${prefix}${n}`);

export async function heading(page, text, level) {
  await page.getByRole('heading', { name: text, exact: true, ...(level ? { level } : {}) }).waitFor();
}

// openDemo opens the demo app and chooses Sign in (guide step 1).
export async function openDemoAndSignIn(w, g, { shots = '', query = '' } = {}) {
  const { page } = w;
  await page.goto(g.demoURL + '/');
  await heading(page, 'Gatehouse demo app', 1);
  await w.step('Demo app: signed out', name(shots, '01-demo-app'));
  if (query) await page.goto(`${g.demoURL}/login${query}`);
  else await page.getByRole('link', { name: 'Sign in' }).click();
}

// enterUsername and enterPassword are guide steps 2 and 3.
export async function enterUsername(w, upn, { shots = '' } = {}) {
  const { page } = w;
  await heading(page, 'Sign in', 1);
  await page.getByLabel('Username').fill(upn);
  await w.step('Sign in', name(shots, '02-sign-in'));
  await page.getByRole('button', { name: 'Next' }).click();
}

export async function enterPassword(w, password, { shots = '' } = {}) {
  const { page } = w;
  await heading(page, 'Enter password', 1);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await w.step('Enter password', name(shots, '03-password'));
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// register walks "More information required" and "Keep your account
// secure": the app, then the phone by text (guide steps 4-7). It returns
// the authenticator app holding the key.
export async function register(w, g, { upn, number = '704 555 0112', e164 = '+17045550112', shots = '', lookAtOthers = false } = {}) {
  const { page } = w;
  await heading(page, 'More information required', 1);
  await page.getByText('Your organization needs more information to keep your account secure').waitFor();
  await w.step('More information required', name(shots, '04-more-information-required'));
  await page.getByRole('button', { name: 'Next' }).click();

  // Method 1 of 2: App.
  await heading(page, 'Keep your account secure', 1);
  await page.getByText('Your organization requires you to set up the following methods of proving who you are.').waitFor();
  await heading(page, 'Method 1 of 2: App', 2);
  const progress = page.getByRole('list', { name: 'Progress' });
  assert.deepEqual(await progress.getByRole('listitem').allInnerTexts(), ['App', 'Phone']);
  await page.getByRole('img', { name: /QR code for your authenticator app/ }).waitFor();
  if (lookAtOthers) {
    // "I want to set up a different method" offers the other kinds; Cancel
    // comes back to the app.
    await page.getByRole('button', { name: 'I want to set up a different method' }).click();
    await heading(page, 'Choose a different method', 2);
    const kinds = page.getByRole('group', { name: 'Which method would you like to use?' });
    for (const k of ['Phone', 'Email']) await kinds.getByRole('radio', { name: k, exact: true }).waitFor();
    await w.step('Choose a different method', name(shots, '05b-different-method'));
    await page.getByRole('button', { name: 'Cancel' }).click();
    await heading(page, 'Method 1 of 2: App', 2);
  }
  await page.getByRole('button', { name: 'I want to set up a different method' }).waitFor();
  await page.getByText("Can't scan image?").click();
  // The <details> group: named by its summary while closed, not once open.
  const key = keyFrom(await page.getByRole('group').filter({ hasText: "Can't scan image?" }).innerText());
  const app = new AuthenticatorApp(key, upn);
  await page.getByLabel('Enter the 6-digit code shown in the app').fill(await app.code());
  await w.step('Keep your account secure: Method 1 of 2: App', name(shots, '05-method-1-app'),
    { scrollTo: page.getByRole('heading', { name: 'Method 1 of 2: App' }) });
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByRole('status').getByText('App verified. Your authenticator app was registered successfully').waitFor();
  await w.step('App verified', name(shots, '06-app-verified'));
  await page.getByRole('button', { name: 'Next' }).click();

  // Method 2 of 2: Phone, "Text me a code" by default.
  await heading(page, 'Method 2 of 2: Phone', 2);
  await page.getByLabel('Country or region').waitFor();
  assert.match(await page.getByLabel('Country or region').locator('option:checked').innerText(), /United States/);
  await page.getByLabel('Enter phone number').fill(number);
  assert.equal(await page.getByRole('radio', { name: 'Text me a code' }).isChecked(), true, '"Text me a code" is the default');
  await page.getByRole('radio', { name: 'Call me' }).waitFor();
  await page.getByRole('button', { name: 'I want to set up a different method' }).waitFor();
  await w.step('Keep your account secure: Method 2 of 2: Phone', name(shots, '07-method-2-phone'));
  const since = await g.mark();
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByText(/We just sent a 6 digit code to \+1 704 XXX XX12\. Enter the code below\./).waitFor();
  const { code } = await g.nextCode(since, { to: e164, channel: 'sms' });
  await page.getByRole('button', { name: 'Resend code' }).waitFor();
  await page.getByRole('button', { name: 'Back' }).waitFor();
  await page.getByLabel('Code').fill(code);
  await w.step('Phone: enter the code', name(shots, '08-phone-code'));
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByText('SMS verified. Your phone was registered successfully').waitFor();
  await w.step('SMS verified', name(shots, '09-sms-verified'));
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByText(/Setup is now complete/).waitFor();
  await w.step('Setup is now complete', name(shots, '10-setup-complete'));
  await page.getByRole('button', { name: 'Done' }).click();
  return app;
}

// claims reads the demo app's claims table (name → value).
export async function claims(page) {
  await heading(page, 'Gatehouse demo app', 1);
  const rows = await page.getByRole('row').all();
  const out = {};
  for (const r of rows) {
    const name = await r.getByRole('rowheader').innerText().catch(() => null);
    if (name) out[name.trim()] = (await r.getByRole('cell').innerText()).trim();
  }
  return out;
}

export async function signedInWith(w, { upn, acr, amr = [], shots, label = 'Demo app: signed in' }) {
  const { page } = w;
  await page.getByText(`Signed in as ${upn}`).waitFor();
  const c = await claims(page);
  assert.equal(c.preferred_username, upn);
  assert.equal(c.acr, acr, `acr in ${JSON.stringify(c)}`);
  for (const m of amr) assert.ok(c.amr.split(/[\s,[\]"]+/).includes(m), `amr ${c.amr} has ${m}`);
  await w.step(label, shots);
  return c;
}

// signOut uses the demo app's Sign out button (RP-initiated logout).
export async function signOut(w, g, { shots } = {}) {
  const { page } = w;
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.href.startsWith(g.demoURL));
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
  await w.step('Demo app: signed out again', shots);
}
