// The "usual Node proxy" candidate: node-http-proxy in `cluster` workers with a keep-alive agent,
// configured as its README suggests. Run by the harness as
//   node dist/bench/node-http-proxy.js PORT UPSTREAM_PORT BACKEND_PORT WORKERS [WORKER_NICE]
// and prints "ready" once every worker listens. WORKER_NICE: the nice value Handoff's workers
// run at in the same run (configs.ts, matchedWorkerNice), given to the cluster workers too.
import cluster from 'node:cluster';
import http from 'node:http';
import os from 'node:os';
import httpProxy from 'http-proxy';
import { BACKEND_HOST } from './configs';

const [port, upstreamPort, backendPort, workers] = process.argv.slice(2, 6).map(Number);
const workerNice = process.argv[6] ? Number(process.argv[6]) : null;

if (cluster.isPrimary) {
  let listening = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) process.stdout.write('ready\n');
  });
  // A dead worker makes the candidate's figures meaningless; the harness sees the pid change.
  cluster.on('exit', (w, code, sig) => process.stderr.write(`worker ${w.process.pid} exited (${code ?? sig})\n`));
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  if (workerNice !== null) os.setPriority(workerNice);
  // maxFreeSockets as nginx's `keepalive 64`: idle connections kept per upstream.
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });
  const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const backend = `http://127.0.0.1:${backendPort}`;
  proxy.on('error', (_err, _req, res) => {
    if (res instanceof http.ServerResponse && !res.headersSent) {
      res.writeHead(502);
      res.end();
    } else {
      res.destroy();
    }
  });
  const server = http.createServer((req, res) => {
    const host = (req.headers.host ?? '').split(':')[0];
    proxy.web(req, res, { target: host === BACKEND_HOST ? backend : upstream });
  });
  // WebSockets (the ws-memory workload) as its README shows: proxy.ws on the server's 'upgrade'.
  server.on('upgrade', (req, socket, head) => {
    const host = (req.headers.host ?? '').split(':')[0];
    socket.on('error', () => socket.destroy());
    proxy.ws(req, socket, head, { target: host === BACKEND_HOST ? backend : upstream });
  });
  server.keepAliveTimeout = 75_000;
  server.listen(port, '127.0.0.1', 4096);
}
