// Picks the upstream group for a request: an exact Host match beats '*', then the longest
// path prefix wins (as nginx's server_name + prefix `location` blocks).
import type { RouteConfig, UpstreamConfig } from '../config/types';
import { UpstreamGroup } from '../upstream/upstream-group';
import type { UpstreamServer } from '../upstream/upstream-server';

export interface CompiledRoute {
  readonly pathPrefix: string;
  readonly group: UpstreamGroup;
  /** false: its requests leave no access-log line (nginx's access_log off in a location). */
  readonly accessLog: boolean;
}

export class Router {
  /** host → routes sorted by descending prefix length. */
  private readonly byHost = new Map<string, CompiledRoute[]>();
  /** The worker's upstream groups (pools and balancers), one per configured upstream. */
  private readonly groups: ReadonlyMap<string, UpstreamGroup>;

  constructor(routes: readonly RouteConfig[], upstreams: Readonly<Record<string, UpstreamConfig>>) {
    let firstSlot = 0;
    const groups = new Map(Object.values(upstreams).map((u) => {
      const group = new UpstreamGroup(u, firstSlot);
      firstSlot += u.servers.length;
      return [u.name, group];
    }));
    this.groups = groups;
    for (const route of routes) {
      const group = groups.get(route.upstream);
      if (!group) throw new Error(`route ${route.host}${route.pathPrefix}: unknown upstream "${route.upstream}"`);
      const list = this.byHost.get(route.host) ?? [];
      list.push({ pathPrefix: route.pathPrefix, group, accessLog: route.accessLog });
      this.byHost.set(route.host, list);
    }
    for (const list of this.byHost.values()) list.sort((a, b) => b.pathPrefix.length - a.pathPrefix.length);
  }

  /** Every group's current servers, groups in the config's order. */
  get servers(): readonly UpstreamServer[] {
    return [...this.groups.values()].flatMap((group) => group.servers);
  }

  /** The group at `index` among the config's upstreams (SERVER messages name groups so). */
  groupAt(index: number): UpstreamGroup | undefined {
    return [...this.groups.values()][index];
  }

  /** `host` and `path` as request-target.ts's routeKey gives them (a name without port; a normalised path). */
  match(host: string, path: string): CompiledRoute | null {
    return this.matchIn(this.byHost.get(host), path) ?? this.matchIn(this.byHost.get('*'), path);
  }

  /** Closes every upstream pool (worker shutdown). */
  closeUpstreams(): void {
    for (const group of this.groups.values()) group.close();
  }

  private matchIn(list: CompiledRoute[] | undefined, path: string): CompiledRoute | null {
    if (!list) return null;
    for (const route of list) if (path.startsWith(route.pathPrefix)) return route;
    return null;
  }
}
