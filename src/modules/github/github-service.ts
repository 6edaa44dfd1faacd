import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import type { Db } from '../../db/database.js';
import { AppError, validationFailed, type FieldError } from '../../http/errors.js';
import type { Clock } from '../../lib/clock.js';
import { branchProblem, dagPathProblem, DEFAULT_DAG_PATH, repositoryProblem } from './github-names.js';
import { createGithubRepo, type GithubIntegrationRow } from './github-repo.js';

export function presentGithubIntegration(row: GithubIntegrationRow) {
  return {
    // Stored as text (PostgreSQL integer columns stop at 2^31); the schema caps it at 2^53-1, so this is exact.
    installation_id: Number(row.installation_id),
    repository: row.repository,
    branch: row.branch,
    dag_path: row.dag_path,
    connected_by: row.connected_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

const notConnected = () => new AppError('not_found', 'No GitHub integration is connected to this account.');

export interface GithubInput {
  installation_id: number;
  repository: string;
  branch: string;
  dag_path?: string;
}

export function createGithubService(deps: { db: Db; clock: Clock }) {
  const repo = createGithubRepo(deps.db);

  return {
    async get(accountId: string) {
      const row = await repo.get(accountId);
      if (!row) throw notConnected();
      return presentGithubIntegration(row);
    },

    async connect(principal: Principal, input: GithubInput) {
      const dagPath = input.dag_path ?? DEFAULT_DAG_PATH;
      const errors: FieldError[] = [];
      const checks: Array<[string, string | null]> = [
        ['repository', repositoryProblem(input.repository)],
        ['branch', branchProblem(input.branch)],
        ['dag_path', dagPathProblem(dagPath)],
      ];
      for (const [path, message] of checks) if (message !== null) errors.push({ path, message });
      if (errors.length > 0) throw validationFailed(errors);
      const { row, created } = await repo.upsert(
        principal.accountId,
        {
          installation_id: String(input.installation_id),
          repository: input.repository,
          branch: input.branch,
          dag_path: dagPath,
          connected_by: principalId(principal),
        },
        deps.clock.now().toISOString(),
      );
      return { integration: presentGithubIntegration(row), created };
    },

    async disconnect(accountId: string): Promise<void> {
      if (!(await repo.remove(accountId))) throw notConnected();
    },
  };
}
