// Runs a real Gatehouse for the browser tests: builds the binary once,
// writes a config into a temporary directory (its own ports, SQLite and the
// in-process Redis under data_dir, every message to the dev outbox), creates
// users and the demo app's client with the CLI, starts `gatehouse serve` and
// `gatehouse demo-rp`, and tears both down (their whole process groups).
//
// The demo app is run with `demo-rp` on a port of its own rather than with
// `serve --demo`, whose address is fixed at localhost:9090 (app.DemoAddr):
// with unique ports two runs on one machine never collide. demo-rp is the
// same relying party (internal/demorp) that --demo serves; `serve --demo`
// itself is checked by test/serve-demo.test.mjs when 9090 is free.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, writeFile, readFile, rm, mkdir } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(E2E_DIR, '..');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- the binary ----------------------------------------------------------

let built;

// buildBinary compiles ./cmd/gatehouse once per process (GATEHOUSE_BIN skips it).
export function buildBinary() {
  if (process.env.GATEHOUSE_BIN) return Promise.resolve(process.env.GATEHOUSE_BIN);
  built ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-e2e-bin-'));
    const bin = path.join(dir, 'gatehouse');
    await run('go', ['build', '-o', bin, './cmd/gatehouse'], {
      cwd: REPO, timeout: 300_000, env: { ...process.env, CGO_ENABLED: '0' }, maxBuffer: 16 << 20,
    });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return bin;
  })();
  return built;
}

// freePort asks the kernel for an unused loopback port.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// portFree tells whether host:port can be listened on now.
export function portFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

// --- config --------------------------------------------------------------

function yamlConfig({ issuer, listen, metricsListen, dataDir, outbox, district, mfa, sspr }) {
  const lines = [
    `issuer: ${issuer}`,
    `listen: "${listen}"`,
    `metrics: {listen: "${metricsListen}"}`,
    `data_dir: ${JSON.stringify(dataDir)}`,
    'district:',
    `  name: ${JSON.stringify(district.name)}`,
    `  domain: ${district.domain}`,
    `  help_desk_url: ${JSON.stringify(district.helpDeskURL)}`,
    `  troubleshooting_url: ${JSON.stringify(district.troubleshootingURL)}`,
    'log:',
    '  level: warn',
    'password:',
    '  argon2: {memory_kib: 19456, iterations: 1, parallelism: 1}',
    'delivery:',
    `  outbox_file: ${JSON.stringify(outbox)}`,
    'mfa:',
  ];
  for (const [k, v] of Object.entries(mfa)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  if (sspr) {
    lines.push('sspr:');
    for (const [k, v] of Object.entries(sspr)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  }
  return lines.join('\n') + '\n';
}

export const DISTRICT = {
  name: 'Example School District',
  domain: 'district.example',
};

// codeIn finds the 6-digit code of a text or email, or of a call, which
// reads the digits out one by one: "7. 8. 6. 3. 5. 3."
export function codeIn(m) {
  const source = m.channel === 'voice' ? (m.speech ?? '').replace(/(\d)\.\s+(?=\d)/g, '$1') : m.text ?? '';
  return /\b(\d{6})\b/.exec(source)?.[1];
}

// Servers still running when this process ends (a crash, a timeout) are
// killed with it: each runs in a process group of its own.
const running = new Set();
function killAll() {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { killAll(); process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); });
}

// --- the running server --------------------------------------------------

export class Gatehouse {
  constructor(opts = {}) {
    this.opts = opts;
    this.procs = [];
    this.log = [];
  }

  // start builds, configures, creates the users and the demo client, and
  // starts both servers; it resolves once /readyz and the demo app answer.
  async start() {
    const o = this.opts;
    this.bin = await buildBinary();
    this.dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-e2e-'));
    this.port = await freePort();
    this.demoPort = await freePort();
    while (this.demoPort === this.port) this.demoPort = await freePort();
    // Metrics have a listener of their own (metrics.listen); a fixed port
    // would collide between two runs on one machine.
    this.metricsPort = await freePort();
    while ([this.port, this.demoPort].includes(this.metricsPort)) this.metricsPort = await freePort();
    this.issuer = `http://localhost:${this.port}`;
    this.demoURL = `http://localhost:${this.demoPort}`;
    this.outboxFile = path.join(this.dir, 'outbox.jsonl');
    this.config = path.join(this.dir, 'gatehouse.yaml');
    await mkdir(path.join(this.dir, 'data'), { recursive: true });
    // The help links point at this machine too: nothing leaves localhost.
    const district = {
      ...DISTRICT,
      helpDeskURL: `${this.issuer}/help-desk`,
      troubleshootingURL: `${this.issuer}/troubleshooting`,
      ...(o.district ?? {}),
    };
    this.district = district;
    await writeFile(this.config, yamlConfig({
      issuer: this.issuer,
      listen: `127.0.0.1:${this.port}`,
      metricsListen: `127.0.0.1:${this.metricsPort}`,
      dataDir: path.join(this.dir, 'data'),
      outbox: this.outboxFile,
      district,
      mfa: { allowed_countries: ['US'], ...(o.mfa ?? {}) },
      sspr: o.sspr,
    }), { mode: 0o600 });

    for (const u of o.users ?? []) await this.createUser(u);
    if (o.serveDemo) {
      // `serve --demo`: the demo app registers itself and runs on app.DemoAddr.
      this.demoURL = 'http://localhost:9090';
      this.spawn('serve', [this.bin, 'serve', '--demo', '--config', this.config]);
      await this.waitFor(`${this.issuer}/readyz`, (r) => r.status === 200, 'Gatehouse /readyz');
      await this.waitFor(`${this.demoURL}/`, (r) => r.status === 200, 'the demo app of serve --demo');
      return this;
    }
    const client = await this.cli(['clients', 'create', '--name', o.clientName ?? 'Gatehouse demo app',
      '--redirect-uri', `${this.demoURL}/callback`, '--post-logout-redirect-uri', `${this.demoURL}/`,
      '--scope', 'openid', '--scope', 'profile', '--scope', 'email', '--grant-type', 'authorization_code',
      '--output', 'json']);
    this.client = JSON.parse(client);

    this.spawn('serve', [this.bin, 'serve', '--config', this.config]);
    await this.waitFor(`${this.issuer}/readyz`, (r) => r.status === 200, 'Gatehouse /readyz');
    this.spawn('demo-rp', [this.bin, 'demo-rp', '--issuer', this.issuer, '--client-id', this.client.client_id,
      '--client-secret', this.client.client_secret, '--listen', `127.0.0.1:${this.demoPort}`,
      '--redirect-url', `${this.demoURL}/callback`, '--post-logout-url', `${this.demoURL}/`]);
    await this.waitFor(`${this.demoURL}/`, (r) => r.status === 200, 'the demo app');
    return this;
  }

  // cli runs one gatehouse command against this server's config.
  async cli(args, { input } = {}) {
    const child = spawn(this.bin, [...args, '--config', this.config], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    if (code !== 0) throw new Error(`gatehouse ${args.join(' ')} exited ${code}:\n${out}${err}`);
    return out;
  }

  async createUser({ username, name, email, password }) {
    const args = ['users', 'create', '--username', username, '--password-stdin', '--output', 'json'];
    if (name) args.push('--name', name);
    if (email) args.push('--email', email);
    return JSON.parse(await this.cli(args, { input: password + '\n' }));
  }

  spawn(name, argv) {
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d) => {
      this.log.push(`[${name}] ${d}`);
      if (this.log.length > 400) this.log.splice(0, this.log.length - 400);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    running.add(child.pid);
    child.on('exit', (code, sig) => { child.exited = { code, sig }; running.delete(child.pid); });
    this.procs.push({ name, child });
    return child;
  }

  async waitFor(url, ok, what, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      for (const { name, child } of this.procs) {
        if (child.exited) throw new Error(`${name} exited (${JSON.stringify(child.exited)}) before ${what} answered:\n${this.log.join('')}`);
      }
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(2000), redirect: 'manual' });
        if (ok(r)) return r;
        last = `HTTP ${r.status}`;
      } catch (e) { last = e.message; }
      await sleep(100);
    }
    throw new Error(`${what} did not answer at ${url} within ${timeoutMs} ms (${last}):\n${this.log.join('')}`);
  }

  // --- the dev outbox ---

  async outbox() {
    if (!existsSync(this.outboxFile)) return [];
    const text = await readFile(this.outboxFile, 'utf8');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  // mark returns the outbox position, for nextCode.
  async mark() { return (await this.outbox()).length; }

  // nextCode waits for a message to `to` after position `since` and returns
  // its 6-digit code (from the text, or the speech of a call).
  async nextCode(since, { to, channel, timeoutMs = 15_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const msgs = (await this.outbox()).slice(since)
        .filter((m) => (!to || m.to === to) && (!channel || m.channel === channel));
      // The newest message with a code (security notices have none).
      for (const m of msgs.reverse()) {
        const code = codeIn(m);
        if (code) return { code, message: m };
      }
      await sleep(100);
    }
    const seen = (await this.outbox()).slice(since);
    throw new Error(`no ${channel ?? ''} code to ${to ?? 'anyone'} reached the outbox within ${timeoutMs} ms; `
      + `since then it has: ${JSON.stringify(seen)}`);
  }

  // stop ends both servers (their process groups) and removes the temp dir.
  async stop() {
    for (const { child } of this.procs.reverse()) {
      if (child.exited) continue;
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    }
    for (const { child } of this.procs) {
      if (child.exited) continue;
      const gone = await Promise.race([new Promise((r) => child.once('exit', () => r(true))), sleep(5000).then(() => false)]);
      if (!gone) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    this.procs = [];
    if (this.dir && !process.env.E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}
