// Original file: proto/arrow/flight/Flight.proto


export interface Criteria {
  'expression'?: (Buffer | Uint8Array | string);
}

export interface Criteria__Output {
  'expression': (Buffer);
}
