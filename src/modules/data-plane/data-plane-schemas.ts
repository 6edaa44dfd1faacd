import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.js';

export const DataPlaneToken = Type.Object({
  token: Type.String({ description: 'A JWT carrying the user id (sub) and email; verify it with /.well-known/jwks.json.' }),
  token_type: Type.Literal('Bearer'),
  audience: Type.String({ description: '`skaledata:cluster:<cluster id>`' }),
  cluster_id: Type.String(),
  expires_in: Type.Integer(),
  issued_at: Timestamp,
  expires_at: Timestamp,
}, { title: 'DataPlaneToken' });
