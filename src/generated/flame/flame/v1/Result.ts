// Original file: proto/flame/v1/types.proto


export interface Result {
  'return_code'?: (number);
  'message'?: (string);
  '_message'?: "message";
}

export interface Result__Output {
  'return_code'?: (number);
  'message'?: (string);
  '_message'?: "message";
}
