// Original file: proto/flame/v1/types.proto


export interface TaskContext {
  'task_id'?: (string);
  'session_id'?: (string);
  'input'?: (Buffer | Uint8Array | string);
  '_input'?: "input";
}

export interface TaskContext__Output {
  'task_id'?: (string);
  'session_id'?: (string);
  'input'?: (Buffer);
  '_input'?: "input";
}
