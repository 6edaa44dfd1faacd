import type { Scope } from './types.js';

/**
 * The seed's "Scope combinations" table (shared/seed/api-key-scopes.md), word for word: the use case
 * and its scopes. `full` (the default) is not a preset: omit the scopes to get it.
 */
export const SCOPE_PRESETS = {
  'ci-deploy': { useCase: 'CI/CD deploy pipeline', scopes: ['apps:deploy', 'clusters:read'] },
  monitoring: { useCase: 'Monitoring / dashboards', scopes: ['clusters:read', 'apps:read', 'jobs:read'] },
  'cluster-automation': { useCase: 'Cluster management automation', scopes: ['clusters:read', 'clusters:write'] },
  'dag-sync-bot': { useCase: 'DAG sync bot', scopes: ['apps:deploy'] },
} as const satisfies Record<string, { useCase: string; scopes: readonly Scope[] }>;

export type PresetName = keyof typeof SCOPE_PRESETS;

export const PRESET_NAMES = Object.keys(SCOPE_PRESETS) as PresetName[];

/** The presets that hold `scope`, for "create one with --preset …" hints. */
export function presetsWithScope(scope: string): PresetName[] {
  return PRESET_NAMES.filter((name) => (SCOPE_PRESETS[name].scopes as readonly string[]).includes(scope));
}
