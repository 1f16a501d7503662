// Original file: proto/arrow/flight/Flight.proto

import type { Ticket as _arrow_flight_protocol_Ticket, Ticket__Output as _arrow_flight_protocol_Ticket__Output } from '../../../arrow/flight/protocol/Ticket';
import type { Location as _arrow_flight_protocol_Location, Location__Output as _arrow_flight_protocol_Location__Output } from '../../../arrow/flight/protocol/Location';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp';

export interface FlightEndpoint {
  'ticket'?: (_arrow_flight_protocol_Ticket | null);
  'location'?: (_arrow_flight_protocol_Location)[];
  'expiration_time'?: (_google_protobuf_Timestamp | null);
  'app_metadata'?: (Buffer | Uint8Array | string);
}

export interface FlightEndpoint__Output {
  'ticket': (_arrow_flight_protocol_Ticket__Output | null);
  'location': (_arrow_flight_protocol_Location__Output)[];
  'expiration_time': (_google_protobuf_Timestamp__Output | null);
  'app_metadata': (Buffer);
}
