// The authenticator app: the key shown under "Can't scan image?" turned
// into 6-digit codes, as an app on the phone would.
import { TOTP, Secret } from 'otpauth';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class AuthenticatorApp {
  constructor(base32, account = 'Gatehouse') {
    this.totp = new TOTP({ label: account, secret: Secret.fromBase32(base32.replace(/\s+/g, '')), digits: 6, period: 30, algorithm: 'SHA1' });
    this.lastStep = -1;
  }

  // code returns the code showing now. Gatehouse accepts each code once, so
  // when this step's code was already used it waits for the next one, as a
  // person would watch the app for a new code.
  async code() {
    let step = Math.floor(Date.now() / 30_000);
    if (step <= this.lastStep) {
      await sleep((this.lastStep + 1) * 30_000 - Date.now() + 250);
      step = Math.floor(Date.now() / 30_000);
    }
    // Not in the last second of a step: the code must still be valid when
    // the server checks it (it also accepts one step either side).
    this.lastStep = step;
    return this.totp.generate({ timestamp: step * 30_000 + 1 });
  }
}

// keyFrom reads the base32 key out of the text under "Can't scan image?".
export function keyFrom(text) {
  const line = text.split('\n').map((l) => l.trim()).find((l) => /^[A-Z2-7][A-Z2-7 ]{15,}=*$/.test(l));
  if (!line) throw new Error(`no authenticator key in ${JSON.stringify(text)}`);
  return line.replace(/[\s=]+/g, '');
}
