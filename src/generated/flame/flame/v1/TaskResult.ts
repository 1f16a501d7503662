// Original file: proto/flame/v1/types.proto


export interface TaskResult {
  'return_code'?: (number);
  'output'?: (Buffer | Uint8Array | string);
  'message'?: (string);
  '_output'?: "output";
  '_message'?: "message";
}

export interface TaskResult__Output {
  'return_code'?: (number);
  'output'?: (Buffer);
  'message'?: (string);
  '_output'?: "output";
  '_message'?: "message";
}
