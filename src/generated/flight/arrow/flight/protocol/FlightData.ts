// Original file: proto/arrow/flight/Flight.proto

import type { FlightDescriptor as _arrow_flight_protocol_FlightDescriptor, FlightDescriptor__Output as _arrow_flight_protocol_FlightDescriptor__Output } from '../../../arrow/flight/protocol/FlightDescriptor';

export interface FlightData {
  'flight_descriptor'?: (_arrow_flight_protocol_FlightDescriptor | null);
  'data_header'?: (Buffer | Uint8Array | string);
  'app_metadata'?: (Buffer | Uint8Array | string);
  'data_body'?: (Buffer | Uint8Array | string);
}

export interface FlightData__Output {
  'flight_descriptor': (_arrow_flight_protocol_FlightDescriptor__Output | null);
  'data_header': (Buffer);
  'app_metadata': (Buffer);
  'data_body': (Buffer);
}
