// The district's guide (shared/seed/district-sspr-mfa-guide.md), walked
// screen by screen in Chromium against a real Gatehouse, taking the
// pictures of docs/user-guide.md as it goes:
//   1. sign in, "Keep your account secure" (app, then phone by text), Done,
//      back in the demo app at acr mfa;
//   2. My Account: + Add method, Security questions (a repeated answer is
//      refused), then Email with its code;
//   3. sign out, sign in again: only the code from the app is asked;
//   4. "Sign in another way": a text;
//   5. "Can't access your account?": a reset with two methods.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { setup } from '../lib/harness.mjs';
import { SCREENSHOTS } from '../lib/browser.mjs';
import * as f from '../lib/flows.mjs';
import { writeGuides, PICTURES } from '../make-guide.mjs';

const UPN = 'student@district.example';
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'purple elephant ladder 42';
const PHONE = '+17045550112';
const EMAIL = 'sam@home.example';

const ctx = setup({
  gatehouse: { users: [{ username: 'student', name: 'Sam Student', email: EMAIL, password: PASSWORD }] },
});
let app; // the authenticator app, once registered

ctx.step('1. Sign in with the district username, register the app and the phone (text), Done: back in the app at acr mfa', async () => {
  const { w, g } = ctx;
  await f.openDemoAndSignIn(w, g);
  await f.enterUsername(w, UPN);
  await f.enterPassword(w, PASSWORD);
  app = await f.register(w, g, { upn: UPN, lookAtOthers: true });
  await f.signedInWith(w, { upn: UPN, acr: 'mfa', amr: ['pwd', 'otp', 'sms', 'mfa'], shots: '11-signed-in' });
});

ctx.step('2. My Account: + Add method, Security questions (repeated answer refused), then Email with its code', async () => {
  const { w, g, page } = ctx;
  await page.goto(`${g.issuer}/account`);
  await f.heading(page, 'My Account', 1);
  const info = page.getByRole('region', { name: 'Security info' });
  await info.getByRole('cell', { name: 'Authenticator app (default)', exact: true }).waitFor();
  await info.getByRole('cell', { name: '+1 704 XXX XX12', exact: true }).waitFor();
  await w.step('My Account', '12-my-account');

  // Security questions.
  await page.getByRole('link', { name: '+ Add method' }).click();
  const kind = page.getByLabel('Which method would you like to add?');
  const offered = await kind.getByRole('option').allInnerTexts();
  for (const o of ['Security questions', 'Email']) assert.ok(offered.includes(o), `"${o}" offered in ${offered}`);
  await kind.selectOption({ label: 'Security questions' });
  await w.step('Which method would you like to add? (Security questions)', '13-add-security-questions');
  await page.getByRole('button', { name: 'Add' }).click();

  await f.heading(page, 'Security questions', 1);
  const q = (n) => page.getByRole('group', { name: `Security question ${n}` });
  const answers = ['Biscuit', 'biscuit ', 'Charlotte'];
  for (let n = 1; n <= 3; n++) {
    await q(n).getByLabel('Question').selectOption({ index: n });
    await q(n).getByLabel('Answer').fill(answers[n - 1]);
  }
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('alert').getByText('No question can have the same answer. All answers must be unique.').waitFor();
  await w.step('Security questions: a repeated answer refused', '14-security-questions-unique');
  await q(2).getByLabel('Answer').fill('Gastonia');
  await w.step('Security questions: unique answers', '15-security-questions', { scrollTo: q(1) });
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('status').getByText('Your security info was updated.').waitFor();
  await info.getByRole('cell', { name: '3 questions', exact: true }).waitFor();
  await w.step('My Account: security questions added');

  // Email, with the code sent to it.
  await page.getByRole('link', { name: '+ Add method' }).click();
  await page.getByLabel('Which method would you like to add?').selectOption({ label: 'Email' });
  await w.step('Which method would you like to add? (Email)', '16-add-email');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.getByLabel('Email address').fill(EMAIL);
  await w.step('Email: your personal email address', '17-email-address');
  const since = await g.mark();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText(/We just sent a 6 digit code to sa\*+@home\.example\. Enter the code below\./).waitFor();
  const { code, message } = await g.nextCode(since, { to: EMAIL, channel: 'email' });
  assert.match(message.subject, /verification code/);
  await page.getByLabel('Code').fill(code);
  await w.step('Email: enter the code', '18-email-code');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('status').getByText('Email verified. Your email was registered successfully').waitFor();
  await w.step('Email verified', '19-email-verified');
  await page.getByRole('button', { name: 'Next' }).click();
  await f.heading(page, 'My Account', 1);
  await info.getByRole('cell', { name: 'sa***@home.example', exact: true }).waitFor();
  await w.step('My Account: all methods', '20-security-info', { scrollTo: info });
});

ctx.step('3. Sign out, sign in again: password, then only the code from the app', async () => {
  const { w, g, page } = ctx;
  await page.goto(`${g.demoURL}/`);
  await f.signOut(w, g, { shots: '21-signed-out' });
  await page.getByRole('link', { name: 'Sign in' }).click();
  await f.enterUsername(w, 'student', { shots: null }); // the short name works too
  await f.enterPassword(w, PASSWORD, { shots: null });
  await f.heading(page, 'Enter code', 1);
  await page.getByText('Enter the code displayed in the authenticator app on your mobile device.').waitFor();
  await page.getByRole('button', { name: 'Sign in another way' }).waitFor();
  await page.getByLabel('Code').fill(await app.code());
  await w.step('Enter code (authenticator app)', '22-enter-code');
  await page.getByRole('button', { name: 'Verify' }).click();
  await f.signedInWith(w, { upn: UPN, acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });
});

ctx.step('4. Sign in another way: a text to the phone', async () => {
  const { w, g, page } = ctx;
  await f.signOut(w, g);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await f.enterUsername(w, UPN, { shots: null });
  await f.enterPassword(w, PASSWORD, { shots: null });
  await f.heading(page, 'Enter code', 1);
  await page.getByRole('button', { name: 'Sign in another way' }).click();
  await f.heading(page, 'Verify your identity', 1);
  const options = page.getByRole('group', { name: 'Sign in another way' });
  const labels = [];
  for (const r of await options.getByRole('radio').all()) labels.push(await r.evaluate((el) => el.labels[0].innerText.trim()));
  assert.deepEqual(labels, ['Use a verification code from my authenticator app', 'Text +1 704 XXX XX12',
    'Call +1 704 XXX XX12', 'Email a code to sa***@home.example']);
  await options.getByRole('radio', { name: 'Text +1 704 XXX XX12' }).check();
  await w.step('Sign in another way', '23-sign-in-another-way');
  const since = await g.mark();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText('We texted a code to +1 704 XXX XX12. Enter the code to sign in.').waitFor();
  await page.getByRole('button', { name: 'Resend code' }).waitFor();
  const { code } = await g.nextCode(since, { to: PHONE, channel: 'sms' });
  await page.getByLabel('Code').fill(code);
  await w.step('Enter code (text)', '24-text-code');
  await page.getByRole('button', { name: 'Verify' }).click();
  await f.signedInWith(w, { upn: UPN, acr: 'mfa', amr: ['pwd', 'sms', 'mfa'] });
});

ctx.step("5. Can't access your account?: two verification steps, a new password, sign in with it", async () => {
  const { w, g, page } = ctx;
  await f.signOut(w, g);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await f.heading(page, 'Sign in', 1);
  await page.getByRole('link', { name: "Can't access your account?" }).click();

  await f.heading(page, 'Get back into your account', 1);
  await f.heading(page, 'Who are you?', 2);
  await page.getByLabel('Username').fill(UPN);
  await w.step('Get back into your account: Who are you?', '25-reset-who-are-you');
  await page.getByRole('button', { name: 'Next' }).click();

  const choices = page.getByRole('group', { name: 'Choose the contact method we should use for verification:' });
  const verify = async (step, radio, to, channel, sent, [choiceShot, codeShot]) => {
    await f.heading(page, `Verification step ${step} of 2`, 2);
    await choices.getByRole('radio', { name: radio }).check();
    await w.step(`Verification step ${step} of 2`, choiceShot);
    const since = await g.mark();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText(sent).waitFor();
    const { code } = await g.nextCode(since, { to, channel });
    await page.getByLabel('Enter your verification code').fill(code);
    await w.step(`Verification step ${step} of 2: the code`, codeShot);
    await page.getByRole('button', { name: 'Next' }).click();
  };
  // Before a first proof every username sees the same choices, with no
  // masked number or address: nothing tells who has what registered.
  await f.heading(page, 'Verification step 1 of 2', 2);
  for (const o of ['Email my alternate email', 'Text my mobile phone', 'Call my mobile phone',
    'Enter a code from my authenticator app', 'Answer my security questions']) {
    await choices.getByRole('radio', { name: o, exact: true }).waitFor();
  }
  await verify(1, 'Email my alternate email', EMAIL, 'email',
    "If an alternate email is registered to your account, we've sent it a message containing a verification code.",
    ['26-reset-step-1', '27-reset-code-1']);
  await f.heading(page, 'Verification step 2 of 2', 2);
  // The second step is a different channel: the email is no longer offered,
  // and after a proof the person's own number is shown, masked.
  assert.equal(await choices.getByRole('radio', { name: /Email my alternate email/ }).count(), 0);
  await verify(2, 'Text my mobile phone +1 704 XXX XX12', PHONE, 'sms',
    "We've sent a text message containing a verification code to +1 704 XXX XX12.",
    ['28-reset-step-2', '29-reset-code-2']);

  await f.heading(page, 'Choose a new password', 2);
  await page.getByLabel('Enter new password').fill(NEW_PASSWORD);
  await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
  await w.step('Choose a new password', '30-new-password');
  await page.getByRole('button', { name: 'Finish' }).click();
  await f.heading(page, 'Your password has been reset', 2);
  await w.step('Your password has been reset', '31-password-reset');
  await page.getByRole('link', { name: 'Sign in' }).click();

  // The old password no longer works; the new one does, with the app's code.
  await f.enterUsername(w, UPN, { shots: null });
  await f.enterPassword(w, PASSWORD, { shots: null });
  await page.getByRole('alert').waitFor();
  await w.step('Enter password: the old password refused');
  await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await f.heading(page, 'Enter code', 1);
  await page.getByLabel('Code').fill(await app.code());
  await page.getByRole('button', { name: 'Verify' }).click();
  await f.signedInWith(w, { upn: UPN, acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });
});

ctx.finalChecks('the guide walk (1-5)');

test('docs/user-guide.md and docs/admin-guide.md are written from this walk\'s pictures', async (t) => {
  if (ctx.failed()) {
    t.skip('the walk failed: the guides are left as they were');
    return;
  }
  for (const p of PICTURES) {
    assert.ok(ctx.w.taken.includes(p), `the guide shows ${p}.png, which this walk did not take`);
    const size = statSync(path.join(SCREENSHOTS, `${p}.png`)).size;
    assert.ok(size < 150_000, `${p}.png is ${size} bytes`);
  }
  const written = await writeGuides({ bin: ctx.g.bin });
  for (const file of written) assert.ok(existsSync(file), file);
});
