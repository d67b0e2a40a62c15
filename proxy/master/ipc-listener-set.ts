// The listeners for the "ipc" transport: Node's own net.Server accepts (paused, so the master
// never reads a byte) and each socket goes to a worker through Node's built-in handle passing on
// the child_process IPC channel. It is here to be compared with the seqpacket addon: the same
// master, another way to move a connection (see handoff-facts.md for what it costs).
import net from 'node:net';
import type { ListenerConfig } from '../config/types';
import type { Logger } from '../observability/logger';

export class IpcListenerSet {
  private readonly servers: net.Server[] = [];
  private readonly ports: number[] = [];
  private readonly configs: ListenerConfig[] = [];
  private paused = false;

  constructor(private readonly log: Logger) {}

  async bind(configs: readonly ListenerConfig[]): Promise<void> {
    try {
      for (const config of configs) {
        const server = net.createServer({ pauseOnConnect: true });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: config.host, port: config.port, backlog: config.backlog }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        server.on('error', (err) => this.log.error(`the listener ${config.host}:${config.port} failed (${err.message})`));
        this.servers.push(server);
        this.configs.push(config);
        this.ports.push((server.address() as net.AddressInfo).port);
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get addresses(): string[] {
    return this.configs.map((c, i) => (c.host.includes(':') ? `[${c.host}]:${this.ports[i]}` : `${c.host}:${this.ports[i]}`));
  }

  startAccepting(onConnection: (socket: net.Socket, listener: number) => void): void {
    this.servers.forEach((server, index) => server.on('connection', (socket: net.Socket) => {
      socket.on('error', () => socket.destroy());
      onConnection(socket, index);
    }));
  }

  // net.Server cannot stop accepting without closing; while paused, new sockets just wait in
  // the master's queue (the caller's), which is what this transport's measured weakness is.
  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  close(): void {
    for (const server of this.servers.splice(0)) server.close();
  }
}
