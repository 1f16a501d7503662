// Original file: proto/arrow/flight/Flight.proto


export interface Ticket {
  'ticket'?: (Buffer | Uint8Array | string);
}

export interface Ticket__Output {
  'ticket': (Buffer);
}
