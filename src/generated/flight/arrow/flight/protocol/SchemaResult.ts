// Original file: proto/arrow/flight/Flight.proto


export interface SchemaResult {
  'schema'?: (Buffer | Uint8Array | string);
}

export interface SchemaResult__Output {
  'schema': (Buffer);
}
