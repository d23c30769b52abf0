// The first sign-in and "Keep your account secure" with the keyboard only:
// Tab to each control, Enter to press it, typing into fields, and the arrow
// key a radio group uses to change its choice ("Call me"). No clicks.
import assert from 'node:assert/strict';
import { setup } from '../lib/harness.mjs';
import * as f from '../lib/flows.mjs';
import { press, type, tabTo, focused } from '../lib/keyboard.mjs';
import { AuthenticatorApp, keyFrom } from '../lib/totp.mjs';

const UPN = 'kim@district.example';
const PASSWORD = 'correct horse battery';

const ctx = setup({
  shots: false,
  gatehouse: { users: [{ username: 'kim', name: 'Kim Keys', email: 'kim@home.example', password: PASSWORD }] },
});

ctx.step('keyboard only: sign in, the interstitial, the app and the phone (Call me), Done', async () => {
  const { w, g, page } = ctx;
  const kb = page.keyboard;
  await page.goto(`${g.demoURL}/`);
  await w.step('Demo app');
  await press(page, page.getByRole('link', { name: 'Sign in' }));

  // The username and password fields have the focus when their page opens.
  await f.heading(page, 'Sign in', 1);
  assert.ok(await focused(page.getByLabel('Username')), 'Username has the focus');
  await w.step('Sign in');
  await kb.type('kim');
  await kb.press('Enter');
  await f.heading(page, 'Enter password', 1);
  assert.ok(await focused(page.getByLabel('Password', { exact: true })), 'Password has the focus');
  await w.step('Enter password');
  await kb.type(PASSWORD);
  await kb.press('Enter');

  await f.heading(page, 'More information required', 1);
  await w.step('More information required');
  await press(page, page.getByRole('button', { name: 'Next' }));

  // Method 1 of 2: App — open "Can't scan image?" with Enter, read the key.
  await f.heading(page, 'Method 1 of 2: App', 2);
  await w.step('Method 1 of 2: App');
  await press(page, page.getByText("Can't scan image?"));
  const app = new AuthenticatorApp(keyFrom(await page.getByRole('group').filter({ hasText: "Can't scan image?" }).innerText()));
  await type(page, page.getByLabel('Enter the 6-digit code shown in the app'), await app.code());
  await press(page, page.getByRole('button', { name: 'Next' }));
  await page.getByRole('status').getByText('App verified. Your authenticator app was registered successfully').waitFor();
  await w.step('App verified');
  await press(page, page.getByRole('button', { name: 'Next' }));

  // Method 2 of 2: Phone — "Call me" chosen with the arrow key.
  await f.heading(page, 'Method 2 of 2: Phone', 2);
  await w.step('Method 2 of 2: Phone');
  await type(page, page.getByLabel('Enter phone number'), '704 555 0112');
  await tabTo(page, page.getByRole('radio', { name: 'Text me a code' }));
  await kb.press('ArrowDown');
  assert.ok(await page.getByRole('radio', { name: 'Call me' }).isChecked(), 'ArrowDown chose "Call me"');
  const since = await g.mark();
  await press(page, page.getByRole('button', { name: 'Next' }));
  await page.getByText(/We're calling \+1 704 XXX XX12 now\. Answer the call and enter the 6 digit code you hear below\./).waitFor();
  await w.step('Phone: we are calling');
  const { code, message } = await g.nextCode(since, { to: '+17045550112', channel: 'voice' });
  assert.match(message.speech, /\d\. \d\. \d\. \d\. \d\. \d/, 'the code is read out digit by digit');
  assert.ok(await focused(page.getByLabel('Code')), 'Code has the focus');
  await kb.type(code);
  await press(page, page.getByRole('button', { name: 'Next' }));
  await page.getByRole('status').getByText('Call answered. Your phone was registered successfully').waitFor();
  await w.step('Call answered');
  await press(page, page.getByRole('button', { name: 'Next' }));
  await page.getByText(/Setup is now complete/).waitFor();
  await w.step('Setup is now complete');
  await press(page, page.getByRole('button', { name: 'Done' }));
  await f.signedInWith(w, { upn: UPN, acr: 'mfa', amr: ['pwd', 'otp', 'tel', 'mfa'] });
});

ctx.finalChecks('the keyboard-only walk');
