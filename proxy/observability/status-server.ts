// The master's status listener (config `status`), like nginx's stub_status but richer:
//   GET /             the live dashboard (dashboard/page.ts)
//   GET /metrics      Prometheus text
//   GET /status.json  the snapshot as JSON
//   GET /events       the snapshot once a second as Server-Sent Events (what the dashboard reads)
// It serves people and scrapers, never proxied traffic; the master reads only these requests.
import http from 'node:http';
import type { Logger } from './logger';
import { dashboardPage } from './dashboard/page';
import { prometheusText, type StatusSnapshot } from './master-metrics';

const EVENT_INTERVAL_MS = 1_000;

export class StatusServer {
  private readonly server: http.Server;
  private readonly streams = new Set<http.ServerResponse>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly snapshot: () => StatusSnapshot,
    private readonly log: Logger,
  ) {
    this.server = http.createServer((req, res) => this.route(req, res));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.server.on('error', (err) => this.log.error(`the status listener failed (${err.message})`));
        const address = this.server.address() as { address: string; port: number };
        resolve(`${host.includes(':') ? `[${host}]` : host}:${address.port}`);
      });
    });
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain', 'method not allowed\n');
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/':
        return this.send(res, 200, 'text/html; charset=utf-8', dashboardPage);
      case '/metrics':
        return this.send(res, 200, 'text/plain; version=0.0.4', prometheusText(this.snapshot()));
      case '/status.json':
        return this.send(res, 200, 'application/json', `${JSON.stringify(this.snapshot())}\n`);
      case '/events':
        return this.openStream(res);
      default:
        return this.send(res, 404, 'text/plain', 'not found\n');
    }
  }

  private send(res: http.ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(body);
  }

  private openStream(res: http.ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(`data: ${JSON.stringify(this.snapshot())}\n\n`);
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
    res.on('error', () => this.streams.delete(res));
    this.timer ??= setInterval(() => this.broadcast(), EVENT_INTERVAL_MS);
  }

  private broadcast(): void {
    if (this.streams.size === 0) {
      clearInterval(this.timer!);
      this.timer = null;
      return;
    }
    const event = `data: ${JSON.stringify(this.snapshot())}\n\n`;
    for (const res of this.streams) res.write(event);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const res of this.streams) res.destroy();
    this.streams.clear();
    this.server.close();
    this.server.closeAllConnections();
  }
}
