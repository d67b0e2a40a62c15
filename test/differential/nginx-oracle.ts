// nginx as the oracle of the differential run: one process per run, in a temp prefix, with one
// server per lane, each in front of its own recording origin. The config does what Handoff does
// where the two differ only by configuration, so that what remains different is behaviour:
// HTTP/1.1 and keep-alive to the upstream, the client's Host passed through, bodies streamed, a
// WebSocket upgrade passed on (only WebSocket, as Handoff's default `upgrades`), the rest of the
// client's headers passed as nginx passes them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../helpers/procfs';

export const NGINX = '/usr/sbin/nginx';

/** Why nginx cannot be the oracle here, or null when it can. */
export function nginxMissing(): string | null {
  if (!fs.existsSync(NGINX)) return `${NGINX} is not installed (apt-get install nginx-light)`;
  const probe = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `${NGINX} -v failed: ${probe.stderr}`;
}

export interface RunningNginx {
  /** The port of each lane, in lane order. */
  readonly ports: number[];
  readonly pid: number;
  errorLog(): string;
  stop(): Promise<void>;
}

/** A loopback port nothing listens on now (bound, then closed; nginx binds it right after). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export function nginxConf(dir: string, lanes: ReadonlyArray<{ port: number; originPort: number }>): string {
  // As root, nginx would drop its worker to "nobody", who cannot read the 0700 temp prefix.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp-${t};`).join('\n');
  const servers = lanes
    .map(
      (lane, i) => `  upstream lane${i} { server 127.0.0.1:${lane.originPort}; keepalive 8; }
  server {
    listen 127.0.0.1:${lane.port};
    location / {
      proxy_pass http://lane${i};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $passed_upgrade;
      proxy_set_header Connection $upstream_connection;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_request_buffering off;
    }
  }`,
    )
    .join('\n');
  return `${user}master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  access_log off;
${temps}
  keepalive_timeout 75s;
  client_max_body_size 0;
  # Handoff tunnels only the protocols in its "upgrades" (by default WebSocket) and says
  # Connection: keep-alive to the upstream otherwise.
  map $http_upgrade $passed_upgrade { "~*^[ \\t]*websocket[ \\t]*$" $http_upgrade; default ""; }
  map $passed_upgrade $upstream_connection { "" keep-alive; default Upgrade; }
${servers}
}
`;
}

export async function startNginx(origins: readonly number[]): Promise<RunningNginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-differential-nginx-'));
  const lanes: { port: number; originPort: number }[] = [];
  for (const originPort of origins) lanes.push({ port: await freePort(), originPort });
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf(dir, lanes));
  const errorLog = path.join(dir, 'error.log');
  let stderr = '';
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf, '-e', errorLog, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const readErrorLog = () => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '');
  try {
    await waitFor('nginx to listen', async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}${readErrorLog()}`);
      for (const lane of lanes) if (!(await accepts(lane.port))) return false;
      return true;
    }, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ports: lanes.map((l) => l.port),
    pid: child.pid!,
    errorLog: readErrorLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
