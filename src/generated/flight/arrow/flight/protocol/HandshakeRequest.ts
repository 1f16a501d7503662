// Original file: proto/arrow/flight/Flight.proto

import type { Long } from '@grpc/proto-loader';

export interface HandshakeRequest {
  'protocol_version'?: (number | string | Long);
  'payload'?: (Buffer | Uint8Array | string);
}

export interface HandshakeRequest__Output {
  'protocol_version': (number);
  'payload': (Buffer);
}
