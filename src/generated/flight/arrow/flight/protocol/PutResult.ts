// Original file: proto/arrow/flight/Flight.proto


export interface PutResult {
  'app_metadata'?: (Buffer | Uint8Array | string);
}

export interface PutResult__Output {
  'app_metadata': (Buffer);
}
