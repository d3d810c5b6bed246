/** GET /api/v1/cluster: the hubs of the cluster and this hub's link to it (any agent or the cockpit). */
import { API_PREFIX } from '../../shared/agent-protocol';
import { CLUSTER_PATH } from '../../shared/cluster-protocol';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf, requireAuthority } from '../api/auth';
import type { ApiContext } from '../api/server';
import { NO_CLUSTER, type Cluster } from './index';

export function registerClusterRoutes({ http }: ApiContext, registry: AgentRegistry, cluster: Cluster | null, cockpitToken: string): void {
  http.get(`${API_PREFIX}${CLUSTER_PATH}`, async (request) => {
    requireAuthority(authorityOf(request, registry, cockpitToken));
    return cluster ? cluster.state() : NO_CLUSTER;
  });
}
