import type { ResourceFence } from '../../auth/resource-fence.js';
import { isUniqueViolation, type Db } from '../../db/database.js';
import { AppError, conflict, notFound, validationFailed, type FieldError } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { seal } from '../../lib/secret-box.js';
import { checkCredentials, checkRegion, type Provider } from './cloud-credentials.js';
import type { EventLog } from '../events/event-log.js';
import type { Actor } from '../events/event-types.js';
import { createCloudRepo, type CloudRow } from './cloud-repo.js';

export function presentCloud(row: CloudRow) {
  return {
    id: row.id,
    name: row.name,
    provider: row.provider,
    region: row.region,
    credentials: { configured: row.credentials_encrypted !== '', hint: row.credential_hint },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

const nameTaken = (name: string) => conflict(`A cloud named "${name}" already exists in this account.`);

export function createCloudService(deps: { db: Db; clock: Clock; encryptionKey: Buffer; events: Pick<EventLog, 'record'> }) {
  const repo = createCloudRepo(deps.db);

  function sealCredentials(provider: Provider, raw: Record<string, unknown>, cloudId: string, errors: FieldError[]) {
    const checked = checkCredentials(provider, raw);
    if ('errors' in checked) {
      errors.push(...checked.errors);
      return null;
    }
    return { encrypted: seal(deps.encryptionKey, checked.ok.secret, cloudId), hint: checked.ok.hint };
  }

  async function mustGet(accountId: string, id: string): Promise<CloudRow> {
    const row = await repo.get(accountId, id);
    if (!row) throw notFound('cloud', id);
    return row;
  }

  return {
    async create(accountId: string, actor: Actor, input: { name: string; provider: Provider; region: string; credentials: Record<string, unknown> }) {
      const now = deps.clock.now();
      const id = newId('cloud', now.getTime());
      const errors: FieldError[] = [];
      const regionError = checkRegion(input.provider, input.region);
      if (regionError) errors.push(regionError);
      const sealed = sealCredentials(input.provider, input.credentials, id, errors);
      if (errors.length > 0 || !sealed) throw validationFailed(errors);
      const row: CloudRow = {
        id,
        account_id: accountId,
        name: input.name,
        provider: input.provider,
        region: input.region,
        credentials_encrypted: sealed.encrypted,
        credential_hint: sealed.hint,
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
        deleted_at: null,
      };
      try {
        await deps.db.transaction().execute(async (trx) => {
          await repo.insert(trx, row);
          await deps.events.record(trx, {
            accountId,
            type: 'cloud.created',
            actor,
            subject: { type: 'cloud', id },
            data: { name: row.name, provider: row.provider, region: row.region },
          });
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(input.name);
        throw error;
      }
      return presentCloud(row);
    },

    async list(accountId: string, query: { provider?: string; limit?: number; cursor?: string }, fence: ResourceFence | null = null) {
      const page = pageRequest(query);
      return toPage(await repo.list(accountId, query, page, fence), page, presentCloud);
    },

    async get(accountId: string, id: string) {
      return presentCloud(await mustGet(accountId, id));
    },

    async update(accountId: string, id: string, input: { name?: string; region?: string; credentials?: Record<string, unknown> }) {
      const row = await mustGet(accountId, id);
      const provider = row.provider as Provider;
      const errors: FieldError[] = [];
      const changes: Parameters<typeof repo.update>[2] = { updated_at: deps.clock.now().toISOString() };
      if (input.name !== undefined) changes.name = input.name;
      if (input.region !== undefined && input.region !== row.region) {
        const regionError = checkRegion(provider, input.region);
        if (regionError) errors.push(regionError);
        else if ((await repo.liveClusterCount(deps.db, id)) > 0) {
          throw conflict(`Cloud ${id} has clusters; its region cannot change while they exist.`);
        }
        changes.region = input.region;
      }
      if (input.credentials !== undefined) {
        const sealed = sealCredentials(provider, input.credentials, id, errors);
        if (sealed) {
          changes.credentials_encrypted = sealed.encrypted;
          changes.credential_hint = sealed.hint;
        }
      }
      if (errors.length > 0) throw validationFailed(errors);
      try {
        if (!(await repo.update(accountId, id, changes))) throw notFound('cloud', id);
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(input.name ?? row.name);
        throw error;
      }
      return presentCloud(await mustGet(accountId, id));
    },

    async remove(accountId: string, id: string, actor: Actor): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        if (!(await repo.lockLive(trx, accountId, id))) throw notFound('cloud', id);
        const clusters = await repo.liveClusterCount(trx, id);
        if (clusters > 0) {
          throw new AppError('conflict', `Cloud ${id} is used by ${clusters} cluster(s); destroy them first.`, { clusters });
        }
        await repo.markDeleted(trx, id, deps.clock.now().toISOString());
        await deps.events.record(trx, { accountId, type: 'cloud.deleted', actor, subject: { type: 'cloud', id } });
      });
    },

    repo,
  };
}

export type CloudService = ReturnType<typeof createCloudService>;
