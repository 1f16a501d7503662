// Original file: proto/flame/v1/types.proto


export interface EmptyRequest {
}

export interface EmptyRequest__Output {
}
