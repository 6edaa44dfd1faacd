import { unwrap } from '../../sdk/index.js';
import { usageError } from '../errors.js';
import { parse, session, table, wholeNumber, type Io } from '../io.js';

/**
 * `skaledata events [--type T] [--key ID] [--since ISO] [--limit N]`: the newest events of the account's
 * audit trail (GET /events, `full` or a user session), newest first.
 */
export async function events(io: Io, args: string[]): Promise<void> {
  const { values } = parse(args, { type: { type: 'string' }, key: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } }, { min: 0, max: 0, names: '' });
  const limit = wholeNumber(values.limit, '--limit', 1, 200) ?? 50;
  if (values.since !== undefined && Number.isNaN(Date.parse(values.since))) throw usageError(`--since must be an ISO 8601 instant (got "${values.since}")`);
  const { client, out } = session(io, values);
  const query = {
    limit,
    ...(values.type === undefined ? {} : { type: values.type as never }),
    ...(values.key === undefined ? {} : { api_key_id: values.key }),
    ...(values.since === undefined ? {} : { since: new Date(values.since).toISOString() }),
  };
  const page = await unwrap(client.GET('/events', { params: { query } }));
  out.result(page, () =>
    table(
      ['TIME', 'TYPE', 'ACTOR', 'SUBJECT', 'FROM'],
      page.data.map((event) => [
        event.created_at,
        event.type,
        `${event.actor.type}:${event.actor.id ?? '-'}`,
        `${event.subject.type}:${event.subject.id}`,
        event.actor.client_ip ?? '-',
      ]),
    ),
  );
}
