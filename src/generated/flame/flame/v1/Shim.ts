// Original file: proto/flame/v1/types.proto

export const Shim = {
  Host: 'Host',
  Wasm: 'Wasm',
} as const;

export type Shim =
  | 'Host'
  | 0
  | 'Wasm'
  | 1

export type Shim__Output = typeof Shim[keyof typeof Shim]
