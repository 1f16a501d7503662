/**
 * The Arrow Flight service (package arrow.flight.protocol) as grpc-js sees it:
 * loaded once by src/wire/protos.ts, typed by the generated code
 * (src/generated/flight), with FlightData methods (de)serialized by the hand
 * codec in flight-data.ts (see there why).
 */
import * as grpc from '@grpc/grpc-js';
import type { FlightServiceClient as GeneratedFlightServiceClient } from '../generated/flight/arrow/flight/protocol/FlightService';
import { flightServiceMethods } from '../wire/protos';
import { decodeFlightData, decodeFlightDataLenient, encodeFlightData } from './flight-data';
import type { FlightData, OutgoingFlightData } from './flight-data';

export type { FlightData, OutgoingFlightData } from './flight-data';
// The messages as received (defaults on: every field present).
export type { Ticket__Output as Ticket } from '../generated/flight/arrow/flight/protocol/Ticket';
export type { Criteria__Output as Criteria } from '../generated/flight/arrow/flight/protocol/Criteria';
export type { Action__Output as Action } from '../generated/flight/arrow/flight/protocol/Action';
export type { Result__Output as FlightResult } from '../generated/flight/arrow/flight/protocol/Result';
export type { ActionType__Output as ActionType } from '../generated/flight/arrow/flight/protocol/ActionType';
export type { SchemaResult__Output as SchemaResult } from '../generated/flight/arrow/flight/protocol/SchemaResult';
export type { PutResult__Output as PutResult } from '../generated/flight/arrow/flight/protocol/PutResult';
export type { FlightInfo__Output as FlightInfo } from '../generated/flight/arrow/flight/protocol/FlightInfo';
/** A FlightInfo as a server answers it (unset fields may be left out). */
export type { FlightInfo as FlightInfoReply } from '../generated/flight/arrow/flight/protocol/FlightInfo';

/** Flame clients and servers use unlimited message sizes: an object travels as one message (docs/protocol.md §7). */
export const UNLIMITED_MESSAGES: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};

const FLIGHT_DATA_REQUESTS = new Set(['DoPut', 'DoExchange']);
const FLIGHT_DATA_RESPONSES = new Set(['DoGet', 'DoExchange']);

let definition: grpc.ServiceDefinition | undefined;

/** The FlightService definition for grpc-js servers and clients. */
export function flightServiceDefinition(): grpc.ServiceDefinition {
  if (definition) return definition;
  const service = flightServiceMethods();
  const patched: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const m = { ...method } as grpc.MethodDefinition<unknown, unknown>;
    if (FLIGHT_DATA_REQUESTS.has(name)) {
      m.requestSerialize = (v: unknown) => encodeFlightData(v as OutgoingFlightData);
      // The server must answer garbage with INVALID_ARGUMENT, not grpc-js's INTERNAL.
      m.requestDeserialize = (b: Buffer) => decodeFlightDataLenient(b);
    }
    if (FLIGHT_DATA_RESPONSES.has(name)) {
      m.responseSerialize = (v: unknown) => encodeFlightData(v as OutgoingFlightData);
      m.responseDeserialize = (b: Buffer): FlightData => decodeFlightData(b);
    }
    patched[name] = m;
  }
  definition = patched as grpc.ServiceDefinition;
  return definition;
}

type FlightDataMethods = 'DoGet' | 'doGet' | 'DoPut' | 'doPut' | 'DoExchange' | 'doExchange' | 'Handshake' | 'handshake';

/**
 * The generated client, but FlightData as the hand codec in flight-data.ts
 * reads and writes it (the generated FlightData is protobufjs's, which this
 * service does not use).
 */
export interface FlightServiceClient extends Omit<GeneratedFlightServiceClient, FlightDataMethods> {
  DoGet(req: { ticket: Uint8Array }, metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<FlightData>;
  DoPut(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<OutgoingFlightData, { app_metadata: Buffer }>;
  DoExchange(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<OutgoingFlightData, FlightData>;
  /** Not served by flmrun-js (UNIMPLEMENTED); its messages are opaque here. */
  Handshake(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<unknown, unknown>;
}

export type FlightServiceClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => FlightServiceClient;

let clientCtor: FlightServiceClientConstructor | undefined;

/** The client constructor; pass UNLIMITED_MESSAGES (and more) as options. */
export function flightClientConstructor(): FlightServiceClientConstructor {
  // grpc-js builds the methods from the (patched) definition at run time and types them as untyped;
  // their types are the generated ones, with the hand codec's FlightData.
  clientCtor ??= grpc.makeGenericClientConstructor(
    flightServiceDefinition(),
    'FlightService',
  ) as unknown as FlightServiceClientConstructor;
  return clientCtor;
}

export { decodeFlightData, encodeFlightData };
