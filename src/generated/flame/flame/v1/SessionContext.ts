// Original file: proto/flame/v1/types.proto

import type { ApplicationContext as _flame_v1_ApplicationContext, ApplicationContext__Output as _flame_v1_ApplicationContext__Output } from '../../flame/v1/ApplicationContext';

export interface SessionContext {
  'session_id'?: (string);
  'application'?: (_flame_v1_ApplicationContext | null);
  'common_data'?: (Buffer | Uint8Array | string);
  '_common_data'?: "common_data";
}

export interface SessionContext__Output {
  'session_id'?: (string);
  'application'?: (_flame_v1_ApplicationContext__Output);
  'common_data'?: (Buffer);
  '_common_data'?: "common_data";
}
