// The balancer an upstream group's config names.
import type { BalancerName } from '../../config/types';
import type { UpstreamServer } from '../upstream-server';
import type { Balancer } from './balancer';
import { ConsistentHash } from './consistent-hash';
import { LeastConnections } from './least-connections';
import { RandomTwoChoices } from './random-two';
import { SmoothWeightedRoundRobin } from './round-robin';

export function createBalancer(name: BalancerName, servers: readonly UpstreamServer[]): Balancer {
  switch (name) {
    case 'least-conn':
      return new LeastConnections(servers);
    case 'random-two':
      return new RandomTwoChoices(servers);
    case 'hash':
      return new ConsistentHash(servers);
    case 'round-robin':
      return new SmoothWeightedRoundRobin(servers);
  }
}
