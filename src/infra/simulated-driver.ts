import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  StepFailedError,
  type ClusterSpec,
  type InfraDriver,
  type HealthCheck,
  type LogReadOptions,
  type Operation,
  type Pod,
  type StepContext,
  type StepOutputs,
} from './driver.js';

/**
 * The `simulated` driver: it reaches no cloud and no Kubernetes. It behaves like a real driver so the
 * control plane can be run and tested end to end on one machine: steps take time (stepMs, with a
 * per-step weight and jitter), write logs, can be aborted, and fail on request.
 *
 * Injected failures: a step fails when the cluster's name (for cluster operations) or the node pool's
 * name (for node pool operations) contains `simfail-<step name>`, e.g. a cluster named
 * `demo-simfail-create-control-plane` fails in its create-control-plane step.
 */
export interface SimulatedDriverOptions {
  stepMs: number;
}

const STEP_WEIGHT: Record<string, number> = {
  'create-control-plane': 3,
  'upgrade-control-plane': 3,
  'delete-control-plane': 2,
  'wait-for-nodes-ready': 2,
};

function stepsOf(operation: Operation): string[] {
  switch (operation.kind) {
    case 'cluster.create':
      return ['validate-cloud-credentials', 'create-network', 'create-control-plane', 'configure-cluster-access', 'install-system-components'];
    case 'cluster.upgrade':
      return ['preflight-checks', 'upgrade-control-plane', 'upgrade-system-components', 'roll-node-pools'];
    case 'cluster.destroy':
      return ['drain-node-pools', 'delete-node-pools', 'delete-control-plane', 'delete-network'];
    case 'node_pool.create':
      return ['create-instance-template', 'create-node-group', 'wait-for-nodes-ready'];
    case 'node_pool.resize':
      return operation.to.desiredSize < operation.pool.desiredSize
        ? ['drain-removed-nodes', 'update-node-group', 'wait-for-nodes-ready']
        : ['update-node-group', 'wait-for-nodes-ready'];
    case 'node_pool.delete':
      return ['cordon-and-drain-nodes', 'delete-node-group'];
    case 'app.deploy':
      return operation.app.type === 'airflow'
        ? ['pull-image', 'migrate-airflow-database', 'apply-manifests', 'wait-for-rollout']
        : ['pull-image', 'apply-manifests', 'wait-for-rollout'];
    case 'app.restart':
      return ['rolling-restart', 'wait-for-rollout'];
    case 'app.delete':
      return ['delete-workloads', 'delete-storage'];
    case 'dag.sync':
      return ['upload-bundle', 'sync-to-workers', 'parse-dags'];
  }
}

/** The names a failure can be injected through: the pool, the app (and the image being deployed), or the cluster. */
function subjectName(operation: Operation): string {
  if ('pool' in operation) return operation.pool.name;
  if (operation.kind === 'app.deploy') return `${operation.app.name} ${operation.image}`;
  if ('app' in operation) return operation.app.name;
  return operation.cluster.name;
}

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('/')).digest('hex');
}

/** Log lines a step writes, in the words a real provisioning tool would use. */
function stepLines(operation: Operation, step: string): string[] {
  const { cluster } = operation;
  const where = `${cluster.provider}/${cluster.region}`;
  switch (step) {
    case 'validate-cloud-credentials':
      return [`checking ${cluster.provider} credentials and quotas in ${cluster.region}`, 'credentials valid; quotas sufficient'];
    case 'create-network':
      return [`creating network skd-${cluster.name} (10.42.0.0/16) in ${where}`, 'creating 3 private subnets', 'network ready'];
    case 'create-control-plane':
      return [`creating Kubernetes ${cluster.kubernetesVersion} control plane`, 'waiting for API server health', 'control plane healthy'];
    case 'configure-cluster-access':
      return ['issuing cluster CA and service account for skaledata', 'access configured'];
    case 'install-system-components':
      return ['installing coredns, kube-proxy, metrics-server', 'system components ready'];
    case 'preflight-checks':
      return operation.kind === 'cluster.upgrade'
        ? [`checking upgrade path ${cluster.kubernetesVersion} -> ${operation.toVersion}`, 'no deprecated APIs in use']
        : ['preflight checks passed'];
    case 'upgrade-control-plane':
      return operation.kind === 'cluster.upgrade'
        ? [`upgrading control plane to ${operation.toVersion}`, 'control plane upgraded']
        : [];
    case 'upgrade-system-components':
      return ['upgrading coredns and kube-proxy', 'system components upgraded'];
    case 'roll-node-pools':
      return cluster.nodePools.length === 0
        ? ['no node pools to roll']
        : cluster.nodePools.map((pool) => `rolled ${pool.currentSize} node(s) in pool ${pool.name}`);
    case 'drain-node-pools':
      return [`draining ${cluster.nodePools.length} node pool(s)`];
    case 'delete-node-pools':
      return cluster.nodePools.map((pool) => `deleted node group ${pool.name}`).concat('node pools deleted');
    case 'delete-control-plane':
      return ['deleting control plane', 'control plane deleted'];
    case 'delete-network':
      return [`deleting network skd-${cluster.name}`, 'network deleted'];
    default:
      break;
  }
  if ('app' in operation) return appStepLines(operation, step);
  if (!('pool' in operation)) return [`${step} done`];
  const { pool } = operation;
  switch (step) {
    case 'create-instance-template':
      return [`creating instance template ${pool.instanceType} for pool ${pool.name}`];
    case 'create-node-group':
      return [`creating node group ${pool.name} (min ${pool.minSize}, max ${pool.maxSize}, desired ${pool.desiredSize})`];
    case 'update-node-group':
      return operation.kind === 'node_pool.resize'
        ? [`setting node group ${pool.name} to min ${operation.to.minSize}, max ${operation.to.maxSize}, desired ${operation.to.desiredSize}`]
        : [];
    case 'drain-removed-nodes':
      return [`cordoning and draining nodes leaving pool ${pool.name}`];
    case 'wait-for-nodes-ready': {
      const desired = operation.kind === 'node_pool.resize' ? operation.to.desiredSize : pool.desiredSize;
      return [`waiting for ${desired} node(s) to report Ready`, `${desired} node(s) Ready`];
    }
    case 'cordon-and-drain-nodes':
      return [`cordoning and draining nodes of pool ${pool.name}`];
    case 'delete-node-group':
      return [`deleting node group ${pool.name}`, 'node group deleted'];
    default:
      return [`${step} done`];
  }
}

function appStepLines(operation: Extract<Operation, { app: unknown }>, step: string): string[] {
  const { app } = operation;
  switch (step) {
    case 'pull-image':
      return operation.kind === 'app.deploy' ? [`pulling ${operation.image}`, 'image pulled'] : [];
    case 'migrate-airflow-database':
      return ['running airflow db migrate', 'metadata database up to date'];
    case 'apply-manifests':
      return [`applying ${app.type === 'airflow' ? 'scheduler, webserver and triggerer' : 'deployment and service'} manifests for ${app.name}`];
    case 'wait-for-rollout':
      return [`waiting for ${app.name} pods to become ready`, 'rollout complete'];
    case 'rolling-restart':
      return [`restarting ${app.name} pods one at a time`];
    case 'delete-workloads':
      return [`deleting workloads of ${app.name}`];
    case 'delete-storage':
      return [`deleting volumes and secrets of ${app.name}`];
    case 'upload-bundle':
      return operation.kind === 'dag.sync' ? [`uploading DAG bundle v${operation.bundle.version} (${operation.bundle.digest.slice(0, 19)}…)`] : [];
    case 'sync-to-workers':
      return ['syncing DAG files to scheduler and workers'];
    case 'parse-dags':
      return operation.kind === 'dag.sync' ? [`parsed ${operation.bundle.fileCount} file(s); no import errors`] : [];
    default:
      return [`${step} done`];
  }
}

const FAILURE_MESSAGE: Record<string, string> = {
  'pull-image': 'the registry refused the image (simulated ImagePullBackOff)',
  'wait-for-rollout': 'new pods did not become ready within the timeout (simulated CrashLoopBackOff)',
  'parse-dags': 'the scheduler reported import errors in the bundle (simulated)',
  'validate-cloud-credentials': 'the cloud rejected the credentials (simulated AccessDenied)',
  'create-control-plane': 'control plane did not become healthy within the timeout (simulated)',
  'create-node-group': 'instance capacity unavailable in the region (simulated InsufficientInstanceCapacity)',
  'wait-for-nodes-ready': 'nodes did not report Ready within the timeout (simulated)',
};

export function createSimulatedDriver(options: SimulatedDriverOptions): InfraDriver {
  const pause = async (weight: number, signal: AbortSignal) => {
    const ms = Math.round(options.stepMs * weight * (0.8 + Math.random() * 0.4));
    if (ms > 0) await sleep(ms, undefined, { signal });
  };

  return {
    name: 'simulated',
    steps: stepsOf,

    async runStep(operation, step, context: StepContext): Promise<StepOutputs> {
      const lines = stepLines(operation, step);
      const weight = STEP_WEIGHT[step] ?? 1;
      for (const [index, line] of lines.entries()) {
        if (index === lines.length - 1 && subjectName(operation).includes(`simfail-${step}`)) {
          await pause(weight / lines.length, context.signal);
          const message = FAILURE_MESSAGE[step] ?? `step ${step} failed (simulated failure)`;
          context.log(message, 'error');
          throw new StepFailedError(step, message);
        }
        await pause(weight / lines.length, context.signal);
        context.log(line);
      }
      if (operation.kind === 'cluster.create' && step === 'configure-cluster-access') {
        return { endpoint: `https://${operation.cluster.id.toLowerCase().replace('_', '-')}.k8s.simulated.skaledata.local` };
      }
      return {};
    },

    async compensate(operation, completedSteps, context) {
      for (const step of [...completedSteps].reverse()) {
        context.log(`rolling back ${step}`, 'warn');
        await pause(0.5, context.signal);
      }
      context.log(`rolled back ${completedSteps.length} completed step(s) of ${operation.kind}`, 'warn');
    },

    async listPods(cluster: ClusterSpec): Promise<Pod[]> {
      const started = new Date(Date.UTC(2026, 0, 1)).toISOString();
      const nodes = cluster.nodePools.flatMap((pool) =>
        Array.from({ length: pool.currentSize }, (_, i) => `${pool.name}-${digest(cluster.id, pool.id).slice(0, 5)}-${i}`),
      );
      const hash = digest(cluster.id, 'system');
      const pod = (name: string, node: string, namespace = 'kube-system'): Pod => ({
        name,
        namespace,
        node,
        status: nodes.length === 0 && namespace === 'kube-system' && !name.startsWith('kube-proxy') ? 'Pending' : 'Running',
        restarts: 0,
        started_at: started,
      });
      const firstNode = nodes[0] ?? '';
      const pods: Pod[] = [
        pod(`coredns-${hash.slice(0, 10)}-${hash.slice(10, 15)}`, firstNode),
        pod(`coredns-${hash.slice(0, 10)}-${hash.slice(15, 20)}`, nodes[1] ?? firstNode),
        pod(`metrics-server-${hash.slice(20, 30)}-${hash.slice(30, 35)}`, firstNode),
        ...nodes.map((node) => pod(`kube-proxy-${digest(node).slice(0, 5)}`, node)),
      ];
      return pods;
    },

    async appHealth(_cluster, app): Promise<HealthCheck[]> {
      const checked_at = new Date().toISOString();
      const names = app.type === 'airflow' ? ['scheduler', 'webserver', 'triggerer', 'metadata-database'] : ['readiness', 'liveness'];
      const verdict = (): Pick<HealthCheck, 'status' | 'message'> => {
        if (app.status === 'running') return { status: 'pass', message: 'ok' };
        if (app.status === 'deploying' || app.status === 'restarting') return { status: 'warn', message: `pods are rolling (${app.status})` };
        if (app.status === 'failed') return { status: 'fail', message: 'no ready pods' };
        return { status: 'unknown', message: `nothing is deployed (${app.status})` };
      };
      return names.map((name) => ({ name, ...verdict(), checked_at }));
    },

    async createTerminalPod(cluster, sessionId) {
      return { pod: `terminal-${digest(cluster.id, sessionId).slice(0, 10)}`, namespace: 'skaledata-terminals' };
    },

    async podLogs(cluster, podName, read: LogReadOptions) {
      const pods = await this.listPods(cluster);
      const pod = pods.find((candidate) => candidate.name === podName);
      if (!pod) return null;
      const stepMs = Math.max(options.stepMs, 50);
      const line = (n: number) =>
        `${new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString()} ${pod.name} [info] simulated log line ${n} from ${pod.namespace}/${pod.name} on ${pod.node || 'unscheduled'}`;
      const history = 500;
      async function* lines(): AsyncGenerator<string> {
        for (let n = Math.max(0, history - read.tail); n < history; n++) yield line(n);
        if (!read.follow) return;
        for (let n = history; !read.signal.aborted; n++) {
          try {
            await sleep(stepMs, undefined, { signal: read.signal });
          } catch {
            return;
          }
          yield line(n);
        }
      }
      return lines();
    },
  };
}
