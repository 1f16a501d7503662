// Original file: proto/arrow/flight/Flight.proto


export interface Result {
  'body'?: (Buffer | Uint8Array | string);
}

export interface Result__Output {
  'body': (Buffer);
}
