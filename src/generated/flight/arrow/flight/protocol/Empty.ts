// Original file: proto/arrow/flight/Flight.proto


export interface Empty {
}

export interface Empty__Output {
}
