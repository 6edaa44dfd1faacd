/** Kubernetes versions clusters can run; upgrades go one minor version at a time, as Kubernetes requires. */
export const KUBERNETES_VERSIONS = ['1.29', '1.30', '1.31', '1.32', '1.33'] as const;
export type KubernetesVersion = (typeof KUBERNETES_VERSIONS)[number];
export const DEFAULT_KUBERNETES_VERSION: KubernetesVersion = '1.32';

export function minorOf(version: string): number {
  return Number(version.split('.')[1]);
}

/** Null when `to` is a valid next step from `from`; otherwise why not. */
export function upgradeProblem(from: string, to: string): string | null {
  if (minorOf(to) <= minorOf(from)) return `must be newer than the current version ${from}`;
  if (minorOf(to) !== minorOf(from) + 1) return `can move one minor version at a time: from ${from} the next is 1.${minorOf(from) + 1}`;
  return null;
}
