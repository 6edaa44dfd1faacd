/**
 * Everything the control plane asks of real infrastructure (clouds, Kubernetes). A driver turns an
 * operation into named steps that the job runner executes one at a time, so progress is durable,
 * visible (steps and logs on the job) and cancellable between steps.
 */
export interface NodePoolSpec {
  id: string;
  name: string;
  instanceType: string;
  minSize: number;
  maxSize: number;
  desiredSize: number;
}

export interface ClusterSpec {
  id: string;
  name: string;
  provider: 'aws' | 'gcp' | 'azure';
  region: string;
  kubernetesVersion: string;
  nodePools: Array<NodePoolSpec & { currentSize: number }>;
}

export interface AppSpec {
  id: string;
  name: string;
  type: 'airflow' | 'service';
  /** The image serving now (null before the first deploy). */
  image: string | null;
}

export interface DagBundleSpec {
  id: string;
  version: number;
  digest: string;
  fileCount: number;
}

export type Operation =
  | { kind: 'cluster.create'; cluster: ClusterSpec }
  | { kind: 'cluster.upgrade'; cluster: ClusterSpec; toVersion: string }
  | { kind: 'cluster.destroy'; cluster: ClusterSpec }
  | { kind: 'node_pool.create'; cluster: ClusterSpec; pool: NodePoolSpec }
  | { kind: 'node_pool.resize'; cluster: ClusterSpec; pool: NodePoolSpec; to: { minSize: number; maxSize: number; desiredSize: number } }
  | { kind: 'node_pool.delete'; cluster: ClusterSpec; pool: NodePoolSpec }
  | { kind: 'app.deploy'; cluster: ClusterSpec; app: AppSpec; image: string }
  | { kind: 'app.restart'; cluster: ClusterSpec; app: AppSpec }
  | { kind: 'app.delete'; cluster: ClusterSpec; app: AppSpec }
  | { kind: 'dag.sync'; cluster: ClusterSpec; app: AppSpec; bundle: DagBundleSpec };

export type OperationKind = Operation['kind'];

export interface StepContext {
  log(message: string, level?: 'info' | 'warn' | 'error'): void;
  /** Aborted when the server shuts down; a step should stop promptly and may be run again later. */
  signal: AbortSignal;
}

/** Values a step learned that the control plane keeps (e.g. the API endpoint of a new cluster). */
export type StepOutputs = Record<string, string>;

export class StepFailedError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailedError';
  }
}

export interface Pod {
  name: string;
  namespace: string;
  node: string;
  status: 'Running' | 'Pending' | 'Succeeded' | 'Failed';
  restarts: number;
  started_at: string;
}

export interface LogReadOptions {
  tail: number;
  follow: boolean;
  signal: AbortSignal;
}

export interface HealthCheck {
  name: string;
  status: 'pass' | 'warn' | 'fail' | 'unknown';
  message: string;
  checked_at: string;
}

export interface InfraDriver {
  /** Shown in job logs and the start-up banner. */
  readonly name: string;
  /** The ordered step names for an operation; stored on the job when it is queued. */
  steps(operation: Operation): string[];
  /**
   * Runs one step. Steps must be safe to run again (a job resumed after a crash repeats the step it
   * was in). Throws StepFailedError when the infrastructure refuses.
   */
  runStep(operation: Operation, step: string, context: StepContext): Promise<StepOutputs>;
  /** Undoes what the completed steps of a canceled operation created, newest first. */
  compensate(operation: Operation, completedSteps: string[], context: StepContext): Promise<void>;
  listPods(cluster: ClusterSpec): Promise<Pod[]>;
  /** Log lines of a pod, oldest first; with follow, keeps yielding until the signal aborts. Null: no such pod. */
  podLogs(cluster: ClusterSpec, pod: string, options: LogReadOptions): Promise<AsyncIterable<string> | null>;
  /** What the cluster reports about an app's components (scheduler, webserver, readiness, ...). */
  appHealth(cluster: ClusterSpec, app: AppSpec & { status: string }): Promise<HealthCheck[]>;
  /** Starts a pod a user can open a shell in; the control plane hands out the session and its token. */
  createTerminalPod(cluster: ClusterSpec, sessionId: string): Promise<{ pod: string; namespace: string }>;
}
