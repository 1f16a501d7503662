// Original file: proto/arrow/flight/Flight.proto


export interface Location {
  'uri'?: (string);
}

export interface Location__Output {
  'uri': (string);
}
