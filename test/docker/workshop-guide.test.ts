// The workshop guide, run as a participant would: every ```sh block of docs/workshop/NN-*.md, in
// order, against a real compose lab, with the observations each module promises asserted by its
// <!-- ci: … --> comments (test/helpers/guide.ts). The guide's text is the script: a command that
// stops working, or an observation that stops holding, fails here.
//
// The commands run in a copy of the repository (a module edits config/docker.json, as a
// participant does), under a per-run compose project name and free loopback ports, so a lab that
// is already running on this Docker host — another clone's, or a teacher's — is left alone. The
// guide writes localhost:8080 and localhost:8081; the run substitutes its own ports.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseGuide, type GuideStep } from '../helpers/guide';

const ROOT = path.resolve(__dirname, '../../..');
const GUIDE = path.join(ROOT, 'docs/workshop');
const LOCAL_BASE_IMAGE = 'localbase/node:20-bookworm-slim';
const RUN_ID = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const PROJECT = `handoff-guide-${RUN_ID}`;
/** The first command builds the images (cached layers make it quick after the first time). */
const FIRST_COMMAND_MS = 900_000;
const COMMAND_MS = 180_000;

interface Output {
  code: number;
  text: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The files a clone of the repository has (tracked and new, not ignored), copied to `dest` and
 * committed there, so that `./lab reset` can restore config/ from git as it does in a clone.
 */
function copyRepository(dest: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT }).toString().split('\0').filter(Boolean);
  for (const f of files) {
    const from = path.join(ROOT, f);
    if (!fs.existsSync(from)) continue; // deleted in the work tree
    fs.mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
    fs.copyFileSync(from, path.join(dest, f));
    fs.chmodSync(path.join(dest, f), fs.statSync(from).mode);
  }
  const git = (...args: string[]): Buffer => execFileSync('git', ['-c', 'user.name=guide', '-c', 'user.email=guide@localhost', ...args], { cwd: dest, stdio: 'pipe' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'the repository as the guide runs it');
}

class Shell {
  private readonly background = new Map<string, { child: ChildProcess; done: Promise<Output> }>();

  constructor(
    private readonly cwd: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly ports: { proxy: number; status: number },
  ) {}

  /** The guide's addresses, moved to this run's ports. */
  localize(command: string): string {
    return command.replace(/localhost:8080\b/g, `127.0.0.1:${this.ports.proxy}`).replace(/localhost:8081\b/g, `127.0.0.1:${this.ports.status}`);
  }

  start(command: string, timeoutMs: number): { child: ChildProcess; done: Promise<Output> } {
    // Its own process group, so a timeout ends the command and everything it started.
    const child = spawn('bash', ['-o', 'pipefail', '-c', this.localize(command)], { cwd: this.cwd, env: this.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    const timer = setTimeout(() => this.kill(child), timeoutMs);
    const done = new Promise<Output>((resolve) =>
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? 128, text: signal ? `${text}\n(ended by ${signal} after ${timeoutMs} ms)` : text });
      }),
    );
    return { child, done };
  }

  run(command: string, timeoutMs: number): Promise<Output> {
    return this.start(command, timeoutMs).done;
  }

  startBackground(name: string, command: string): void {
    if (this.background.has(name)) throw new Error(`background ${name} is already running`);
    this.background.set(name, this.start(command, COMMAND_MS));
  }

  async wait(name: string): Promise<Output> {
    const job = this.background.get(name);
    if (!job) throw new Error(`no background command named ${name}`);
    this.background.delete(name);
    return job.done;
  }

  stopAll(): void {
    for (const { child } of this.background.values()) this.kill(child);
    this.background.clear();
  }

  private kill(child: ChildProcess): void {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function runModule(file: string, steps: GuideStep[], shell: Shell, firstCommand: { pending: boolean }): Promise<void> {
  let last: { command: string; output: Output } | null = null;
  const where = (line: number): string => `${path.relative(ROOT, file)}:${line}`;
  for (const step of steps) {
    switch (step.kind) {
      case 'skip':
        break;
      case 'run': {
        if (step.background) {
          shell.startBackground(step.background, step.command);
          break;
        }
        const output = await shell.run(step.command, firstCommand.pending ? FIRST_COMMAND_MS : COMMAND_MS);
        firstCommand.pending = false;
        const failed = output.code !== 0;
        assert.equal(failed, step.fails, `${where(step.line)}: \`${step.command}\` exited ${output.code}:\n${output.text.slice(-3000)}`);
        last = { command: step.command, output };
        break;
      }
      case 'wait': {
        const output = await shell.wait(step.name);
        assert.equal(output.code, 0, `${where(step.line)}: background ${step.name} exited ${output.code}:\n${output.text.slice(-3000)}`);
        last = { command: `(background ${step.name})`, output };
        break;
      }
      case 'expect': {
        assert.ok(last, `${where(step.line)}: an expectation before any command`);
        const holds = (text: string): boolean => step.pattern.test(text) !== step.negate;
        const deadline = Date.now() + step.eventuallyMs;
        while (!holds(last.output.text) && Date.now() < deadline && !last.command.startsWith('(background')) {
          await new Promise((r) => setTimeout(r, 500));
          last = { command: last.command, output: await shell.run(last.command, COMMAND_MS) };
        }
        assert.ok(
          holds(last.output.text),
          `${where(step.line)}: the output of \`${last.command}\` ${step.negate ? 'matches' : 'does not match'} ${step.pattern}:\n${last.output.text.slice(-3000)}`,
        );
        break;
      }
    }
  }
}

describe('the workshop guide, run against the compose lab', { timeout: 1_800_000 }, () => {
  // HANDOFF_GUIDE_ONLY=04 (a regex on file names) runs some modules, for whoever is writing them.
  const only = new RegExp(process.env.HANDOFF_GUIDE_ONLY ?? '');
  const modules = fs.existsSync(GUIDE) ? fs.readdirSync(GUIDE).filter((f) => /^\d\d-.*\.md$/.test(f) && only.test(f)).sort() : [];
  let workdir = '';
  let shell: Shell;
  let env: NodeJS.ProcessEnv;
  const firstCommand = { pending: true };

  before(async () => {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe' });
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-guide-'));
    copyRepository(workdir);
    const ports = { proxy: await freePort(), status: await freePort() };
    env = {
      ...process.env,
      COMPOSE_PROJECT_NAME: PROJECT,
      HANDOFF_PORT: String(ports.proxy),
      HANDOFF_STATUS_PORT: String(ports.status),
      HANDOFF_BIND: '127.0.0.1',
    };
    if (!process.env.NODE_IMAGE) {
      try {
        execFileSync('docker', ['image', 'inspect', LOCAL_BASE_IMAGE], { stdio: 'pipe' });
        env.NODE_IMAGE = LOCAL_BASE_IMAGE;
      } catch {
        // the default base image, from a registry
      }
    }
    shell = new Shell(workdir, env, ports);
  });

  after(async () => {
    shell?.stopAll();
    if (!workdir) return;
    // Everything of this run's project: containers, networks, volumes, and the images it built.
    await shell.run('docker compose --profile "*" down --volumes --remove-orphans --rmi local --timeout 10', COMMAND_MS);
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  it('has modules to run', () => {
    assert.ok(modules.length >= (process.env.HANDOFF_GUIDE_ONLY ? 1 : 6), `docs/workshop has ${modules.length} modules`);
  });

  for (const name of modules) {
    const file = path.join(GUIDE, name);
    it(`module ${name}: its commands run and show what the guide says`, async () => {
      const steps = parseGuide(file);
      assert.ok(steps.some((s) => s.kind === 'expect'), `${name} asserts nothing it shows`);
      try {
        await runModule(file, steps, shell, firstCommand);
      } finally {
        shell.stopAll();
      }
    });
  }

  it('leaves nothing of its compose project behind', async () => {
    await shell.run('docker compose --profile "*" down --volumes --remove-orphans --rmi local --timeout 10', COMMAND_MS);
    const label = `label=com.docker.compose.project=${PROJECT}`;
    const left = (args: string[]): string => execFileSync('docker', [...args, '--filter', label], { stdio: 'pipe' }).toString().trim();
    assert.deepEqual({ containers: left(['ps', '-aq']), volumes: left(['volume', 'ls', '-q']), networks: left(['network', 'ls', '-q']) }, { containers: '', volumes: '', networks: '' });
  });
});
