// The README's quick start: `gatehouse serve --demo` registers its demo app
// and runs it on http://localhost:9090 (app.DemoAddr, fixed), which signs in
// through Gatehouse. The other tests run the same app with `demo-rp` on
// ports of their own; this one needs 9090 and is skipped when another
// program holds it.
import { test } from 'node:test';
import { portFree } from '../lib/gatehouse.mjs';
import { setup } from '../lib/harness.mjs';
import * as f from '../lib/flows.mjs';

const UPN = 'dana@district.example';
const PASSWORD = 'correct horse battery';
const free = await portFree(9090, '127.0.0.1');

if (!free) {
  test('serve --demo: the demo app at http://localhost:9090 signs in', (t) => t.skip('port 9090 is in use on this machine'));
} else {
  const ctx = setup({
    shots: false,
    gatehouse: { serveDemo: true, users: [{ username: 'dana', name: 'Dana Demo', email: 'dana@home.example', password: PASSWORD }] },
  });
  ctx.step('serve --demo: the demo app at http://localhost:9090 signs in at acr mfa', async () => {
    const { w, g, page } = ctx;
    await f.openDemoAndSignIn(w, g);
    await page.getByText('to continue to Gatehouse demo app').waitFor();
    await f.enterUsername(w, UPN);
    await f.enterPassword(w, PASSWORD);
    await f.register(w, g, { upn: UPN });
    await f.signedInWith(w, { upn: UPN, acr: 'mfa', amr: ['pwd', 'otp', 'sms', 'mfa'] });
    await f.signOut(w, g);
  });
  ctx.finalChecks('serve --demo');
}
