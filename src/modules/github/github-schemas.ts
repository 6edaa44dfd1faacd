import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.js';
import { DEFAULT_DAG_PATH, MAX_BRANCH_LENGTH, MAX_DAG_PATH_LENGTH } from './github-names.js';

export const GithubIntegration = Type.Object({
  installation_id: Type.Integer({ description: 'The GitHub App installation id.' }),
  repository: Type.String({ description: '"owner/name"' }),
  branch: Type.String(),
  dag_path: Type.String({ description: 'The folder of DAG files, relative to the repository root.' }),
  connected_by: Type.String({ description: 'The user or API key that connected it last.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { title: 'GithubIntegration' });

/**
 * Lengths and types are bounded here; the finer rules (GitHub's repository names, git's branch
 * names, a path that stays in the repository) are checked in github-names.ts with precise messages.
 */
export const PutGithubIntegrationBody = Type.Object(
  {
    // GitHub's ids are JSON numbers; above 2^53-1 a client could not have read one exactly.
    installation_id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    repository: Type.String({ minLength: 3, maxLength: 140, description: '"owner/name" as on github.com' }),
    branch: Type.String({ minLength: 1, maxLength: MAX_BRANCH_LENGTH, description: 'A branch name git accepts (git check-ref-format --branch).' }),
    dag_path: Type.Optional(
      Type.String({ minLength: 1, maxLength: MAX_DAG_PATH_LENGTH, default: DEFAULT_DAG_PATH, description: `Relative to the repository root; defaults to "${DEFAULT_DAG_PATH}".` }),
    ),
  },
  { title: 'PutGithubIntegrationRequest', additionalProperties: false },
);
