// Upstream host names are resolved by the master, at start-up and on reload — as nginx resolves a
// `server backend:3000;` line at config load — and, with `resolver`, again while it runs
// (master/upstream-membership.ts). A name with several addresses (three compose replicas behind
// `backend`) becomes several servers with the same weight, so the balancer sees every replica.
// Each keeps the name it came from. Workers get the resolved addresses and never look names up.
import dns from 'node:dns/promises';
import net from 'node:net';
import { ConfigError, type ConfigProblem } from '../config/errors';
import type { Config, UpstreamConfig, UpstreamServerConfig } from '../config/types';

export async function addressesOf(host: string): Promise<string[]> {
  if (net.isIP(host)) return [host];
  const found = await dns.lookup(host, { all: true });
  // Sorted so every master start orders them the same way.
  return [...new Set(found.map((a) => a.address))].sort();
}

/** A copy of `config` whose upstream servers are all IP addresses; a name that does not resolve is a ConfigError. */
export async function resolveUpstreamServers(config: Config): Promise<Config> {
  const problems: ConfigProblem[] = [];
  const upstreams: Record<string, UpstreamConfig> = {};
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const servers: UpstreamServerConfig[] = [];
    await Promise.all(
      upstream.servers.map(async (server, i) => {
        try {
          for (const host of await addressesOf(server.host)) {
            servers.push(host === server.host ? { ...server, host } : { ...server, host, resolvedFrom: server.host });
          }
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? 'error';
          problems.push({ path: `upstreams.${name}.servers[${i}]`, message: `host not found: "${server.host}" (${code})` });
        }
      }),
    );
    servers.sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
    upstreams[name] = Object.freeze({ ...upstream, servers: Object.freeze(servers) });
  }
  if (problems.length > 0) throw new ConfigError(config.file, problems);
  return Object.freeze({ ...config, upstreams: Object.freeze(upstreams) });
}
