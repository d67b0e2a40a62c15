// Upstream host names are resolved by the master, at start-up and on reload — as nginx resolves a
// `server backend:3000;` line at config load — and, with `resolver`, again while it runs
// (master/re-resolver.ts). A name with several addresses (three compose replicas behind
// `backend`) becomes several servers with the same weight, so the balancer sees every replica.
// Each keeps the name it came from. Workers get the resolved addresses and never look names up.
// Who answers: getaddrinfo (/etc/hosts, then resolv.conf's servers), or, when the config's
// resolver names DNS servers, those, asked for A and AAAA records as nginx's resolver does.
import dns from 'node:dns/promises';
import net from 'node:net';
import { ConfigError, type ConfigProblem } from '../config/errors';
import type { Config, UpstreamConfig, UpstreamServerConfig } from '../config/types';

/** How long one query to a configured DNS server may take, and how often it is sent. */
const QUERY_TIMEOUT_MS = 2_000;
const QUERY_TRIES = 2;

/** `dnsServers`: the config's resolver.addresses; empty: getaddrinfo. */
export async function addressesOf(host: string, dnsServers: readonly string[] = []): Promise<string[]> {
  if (net.isIP(host)) return [host];
  const found = dnsServers.length === 0 ? (await dns.lookup(host, { all: true })).map((a) => a.address) : await query(host, dnsServers);
  // Sorted so every master start orders them the same way.
  return [...new Set(found)].sort();
}

async function query(host: string, dnsServers: readonly string[]): Promise<string[]> {
  const resolver = new dns.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  resolver.setServers(dnsServers);
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const found = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  // Neither family answered: the first failure says why (ENOTFOUND, ETIMEOUT, ESERVFAIL…).
  if (found.length === 0) throw v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : Object.assign(new Error(`no addresses for ${host}`), { code: 'ENODATA' });
  return found;
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
          for (const host of await addressesOf(server.host, config.resolver?.addresses)) {
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
