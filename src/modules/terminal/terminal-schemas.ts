import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.js';

export const TerminalSession = Type.Object({
  session_id: Type.String(),
  cluster_id: Type.String(),
  pod: Type.String(),
  namespace: Type.String(),
  connect_url: Type.String({ description: 'WebSocket URL of the terminal gateway for this session.' }),
  token: Type.String({ description: 'Single-use, valid for 60 s; shown only here. Present it to the gateway.' }),
  expires_at: Timestamp,
}, { title: 'TerminalSession' });

export const RedeemBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 256 }) }, { title: 'RedeemTerminalSessionRequest', additionalProperties: false });

export const RedeemedSession = Type.Object({
  session_id: Type.String(),
  cluster_id: Type.String(),
  pod: Type.String(),
  namespace: Type.String(),
  account_id: Type.String(),
}, { title: 'RedeemedTerminalSession' });
