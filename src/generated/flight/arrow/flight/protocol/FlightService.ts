// Original file: proto/arrow/flight/Flight.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Action as _arrow_flight_protocol_Action, Action__Output as _arrow_flight_protocol_Action__Output } from '../../../arrow/flight/protocol/Action';
import type { ActionType as _arrow_flight_protocol_ActionType, ActionType__Output as _arrow_flight_protocol_ActionType__Output } from '../../../arrow/flight/protocol/ActionType';
import type { Criteria as _arrow_flight_protocol_Criteria, Criteria__Output as _arrow_flight_protocol_Criteria__Output } from '../../../arrow/flight/protocol/Criteria';
import type { Empty as _arrow_flight_protocol_Empty, Empty__Output as _arrow_flight_protocol_Empty__Output } from '../../../arrow/flight/protocol/Empty';
import type { FlightData as _arrow_flight_protocol_FlightData, FlightData__Output as _arrow_flight_protocol_FlightData__Output } from '../../../arrow/flight/protocol/FlightData';
import type { FlightDescriptor as _arrow_flight_protocol_FlightDescriptor, FlightDescriptor__Output as _arrow_flight_protocol_FlightDescriptor__Output } from '../../../arrow/flight/protocol/FlightDescriptor';
import type { FlightInfo as _arrow_flight_protocol_FlightInfo, FlightInfo__Output as _arrow_flight_protocol_FlightInfo__Output } from '../../../arrow/flight/protocol/FlightInfo';
import type { HandshakeRequest as _arrow_flight_protocol_HandshakeRequest, HandshakeRequest__Output as _arrow_flight_protocol_HandshakeRequest__Output } from '../../../arrow/flight/protocol/HandshakeRequest';
import type { HandshakeResponse as _arrow_flight_protocol_HandshakeResponse, HandshakeResponse__Output as _arrow_flight_protocol_HandshakeResponse__Output } from '../../../arrow/flight/protocol/HandshakeResponse';
import type { PollInfo as _arrow_flight_protocol_PollInfo, PollInfo__Output as _arrow_flight_protocol_PollInfo__Output } from '../../../arrow/flight/protocol/PollInfo';
import type { PutResult as _arrow_flight_protocol_PutResult, PutResult__Output as _arrow_flight_protocol_PutResult__Output } from '../../../arrow/flight/protocol/PutResult';
import type { Result as _arrow_flight_protocol_Result, Result__Output as _arrow_flight_protocol_Result__Output } from '../../../arrow/flight/protocol/Result';
import type { SchemaResult as _arrow_flight_protocol_SchemaResult, SchemaResult__Output as _arrow_flight_protocol_SchemaResult__Output } from '../../../arrow/flight/protocol/SchemaResult';
import type { Ticket as _arrow_flight_protocol_Ticket, Ticket__Output as _arrow_flight_protocol_Ticket__Output } from '../../../arrow/flight/protocol/Ticket';

export interface FlightServiceClient extends grpc.Client {
  DoAction(argument: _arrow_flight_protocol_Action, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_Result__Output>;
  DoAction(argument: _arrow_flight_protocol_Action, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_Result__Output>;
  doAction(argument: _arrow_flight_protocol_Action, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_Result__Output>;
  doAction(argument: _arrow_flight_protocol_Action, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_Result__Output>;
  
  DoExchange(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_FlightData__Output>;
  DoExchange(options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_FlightData__Output>;
  doExchange(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_FlightData__Output>;
  doExchange(options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_FlightData__Output>;
  
  DoGet(argument: _arrow_flight_protocol_Ticket, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_FlightData__Output>;
  DoGet(argument: _arrow_flight_protocol_Ticket, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_FlightData__Output>;
  doGet(argument: _arrow_flight_protocol_Ticket, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_FlightData__Output>;
  doGet(argument: _arrow_flight_protocol_Ticket, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_FlightData__Output>;
  
  DoPut(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_PutResult__Output>;
  DoPut(options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_PutResult__Output>;
  doPut(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_PutResult__Output>;
  doPut(options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_PutResult__Output>;
  
  GetFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_FlightInfo__Output>): grpc.ClientUnaryCall;
  GetFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, callback: grpc.requestCallback<_arrow_flight_protocol_FlightInfo__Output>): grpc.ClientUnaryCall;
  GetFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_FlightInfo__Output>): grpc.ClientUnaryCall;
  GetFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, callback: grpc.requestCallback<_arrow_flight_protocol_FlightInfo__Output>): grpc.ClientUnaryCall;
  getFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_FlightInfo__Output>): grpc.ClientUnaryCall;
  getFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, callback: grpc.requestCallback<_arrow_flight_protocol_FlightInfo__Output>): grpc.ClientUnaryCall;
  getFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_FlightInfo__Output>): grpc.ClientUnaryCall;
  getFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, callback: grpc.requestCallback<_arrow_flight_protocol_FlightInfo__Output>): grpc.ClientUnaryCall;
  
  GetSchema(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_SchemaResult__Output>): grpc.ClientUnaryCall;
  GetSchema(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, callback: grpc.requestCallback<_arrow_flight_protocol_SchemaResult__Output>): grpc.ClientUnaryCall;
  GetSchema(argument: _arrow_flight_protocol_FlightDescriptor, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_SchemaResult__Output>): grpc.ClientUnaryCall;
  GetSchema(argument: _arrow_flight_protocol_FlightDescriptor, callback: grpc.requestCallback<_arrow_flight_protocol_SchemaResult__Output>): grpc.ClientUnaryCall;
  getSchema(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_SchemaResult__Output>): grpc.ClientUnaryCall;
  getSchema(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, callback: grpc.requestCallback<_arrow_flight_protocol_SchemaResult__Output>): grpc.ClientUnaryCall;
  getSchema(argument: _arrow_flight_protocol_FlightDescriptor, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_SchemaResult__Output>): grpc.ClientUnaryCall;
  getSchema(argument: _arrow_flight_protocol_FlightDescriptor, callback: grpc.requestCallback<_arrow_flight_protocol_SchemaResult__Output>): grpc.ClientUnaryCall;
  
  Handshake(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_HandshakeRequest, _arrow_flight_protocol_HandshakeResponse__Output>;
  Handshake(options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_HandshakeRequest, _arrow_flight_protocol_HandshakeResponse__Output>;
  handshake(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_HandshakeRequest, _arrow_flight_protocol_HandshakeResponse__Output>;
  handshake(options?: grpc.CallOptions): grpc.ClientDuplexStream<_arrow_flight_protocol_HandshakeRequest, _arrow_flight_protocol_HandshakeResponse__Output>;
  
  ListActions(argument: _arrow_flight_protocol_Empty, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_ActionType__Output>;
  ListActions(argument: _arrow_flight_protocol_Empty, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_ActionType__Output>;
  listActions(argument: _arrow_flight_protocol_Empty, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_ActionType__Output>;
  listActions(argument: _arrow_flight_protocol_Empty, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_ActionType__Output>;
  
  ListFlights(argument: _arrow_flight_protocol_Criteria, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_FlightInfo__Output>;
  ListFlights(argument: _arrow_flight_protocol_Criteria, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_FlightInfo__Output>;
  listFlights(argument: _arrow_flight_protocol_Criteria, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_FlightInfo__Output>;
  listFlights(argument: _arrow_flight_protocol_Criteria, options?: grpc.CallOptions): grpc.ClientReadableStream<_arrow_flight_protocol_FlightInfo__Output>;
  
  PollFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_PollInfo__Output>): grpc.ClientUnaryCall;
  PollFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, callback: grpc.requestCallback<_arrow_flight_protocol_PollInfo__Output>): grpc.ClientUnaryCall;
  PollFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_PollInfo__Output>): grpc.ClientUnaryCall;
  PollFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, callback: grpc.requestCallback<_arrow_flight_protocol_PollInfo__Output>): grpc.ClientUnaryCall;
  pollFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_PollInfo__Output>): grpc.ClientUnaryCall;
  pollFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, metadata: grpc.Metadata, callback: grpc.requestCallback<_arrow_flight_protocol_PollInfo__Output>): grpc.ClientUnaryCall;
  pollFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, options: grpc.CallOptions, callback: grpc.requestCallback<_arrow_flight_protocol_PollInfo__Output>): grpc.ClientUnaryCall;
  pollFlightInfo(argument: _arrow_flight_protocol_FlightDescriptor, callback: grpc.requestCallback<_arrow_flight_protocol_PollInfo__Output>): grpc.ClientUnaryCall;
  
}

export interface FlightServiceHandlers extends grpc.UntypedServiceImplementation {
  DoAction: grpc.handleServerStreamingCall<_arrow_flight_protocol_Action__Output, _arrow_flight_protocol_Result>;
  
  DoExchange: grpc.handleBidiStreamingCall<_arrow_flight_protocol_FlightData__Output, _arrow_flight_protocol_FlightData>;
  
  DoGet: grpc.handleServerStreamingCall<_arrow_flight_protocol_Ticket__Output, _arrow_flight_protocol_FlightData>;
  
  DoPut: grpc.handleBidiStreamingCall<_arrow_flight_protocol_FlightData__Output, _arrow_flight_protocol_PutResult>;
  
  GetFlightInfo: grpc.handleUnaryCall<_arrow_flight_protocol_FlightDescriptor__Output, _arrow_flight_protocol_FlightInfo>;
  
  GetSchema: grpc.handleUnaryCall<_arrow_flight_protocol_FlightDescriptor__Output, _arrow_flight_protocol_SchemaResult>;
  
  Handshake: grpc.handleBidiStreamingCall<_arrow_flight_protocol_HandshakeRequest__Output, _arrow_flight_protocol_HandshakeResponse>;
  
  ListActions: grpc.handleServerStreamingCall<_arrow_flight_protocol_Empty__Output, _arrow_flight_protocol_ActionType>;
  
  ListFlights: grpc.handleServerStreamingCall<_arrow_flight_protocol_Criteria__Output, _arrow_flight_protocol_FlightInfo>;
  
  PollFlightInfo: grpc.handleUnaryCall<_arrow_flight_protocol_FlightDescriptor__Output, _arrow_flight_protocol_PollInfo>;
  
}

export interface FlightServiceDefinition extends grpc.ServiceDefinition {
  DoAction: MethodDefinition<_arrow_flight_protocol_Action, _arrow_flight_protocol_Result, _arrow_flight_protocol_Action__Output, _arrow_flight_protocol_Result__Output>
  DoExchange: MethodDefinition<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_FlightData, _arrow_flight_protocol_FlightData__Output, _arrow_flight_protocol_FlightData__Output>
  DoGet: MethodDefinition<_arrow_flight_protocol_Ticket, _arrow_flight_protocol_FlightData, _arrow_flight_protocol_Ticket__Output, _arrow_flight_protocol_FlightData__Output>
  DoPut: MethodDefinition<_arrow_flight_protocol_FlightData, _arrow_flight_protocol_PutResult, _arrow_flight_protocol_FlightData__Output, _arrow_flight_protocol_PutResult__Output>
  GetFlightInfo: MethodDefinition<_arrow_flight_protocol_FlightDescriptor, _arrow_flight_protocol_FlightInfo, _arrow_flight_protocol_FlightDescriptor__Output, _arrow_flight_protocol_FlightInfo__Output>
  GetSchema: MethodDefinition<_arrow_flight_protocol_FlightDescriptor, _arrow_flight_protocol_SchemaResult, _arrow_flight_protocol_FlightDescriptor__Output, _arrow_flight_protocol_SchemaResult__Output>
  Handshake: MethodDefinition<_arrow_flight_protocol_HandshakeRequest, _arrow_flight_protocol_HandshakeResponse, _arrow_flight_protocol_HandshakeRequest__Output, _arrow_flight_protocol_HandshakeResponse__Output>
  ListActions: MethodDefinition<_arrow_flight_protocol_Empty, _arrow_flight_protocol_ActionType, _arrow_flight_protocol_Empty__Output, _arrow_flight_protocol_ActionType__Output>
  ListFlights: MethodDefinition<_arrow_flight_protocol_Criteria, _arrow_flight_protocol_FlightInfo, _arrow_flight_protocol_Criteria__Output, _arrow_flight_protocol_FlightInfo__Output>
  PollFlightInfo: MethodDefinition<_arrow_flight_protocol_FlightDescriptor, _arrow_flight_protocol_PollInfo, _arrow_flight_protocol_FlightDescriptor__Output, _arrow_flight_protocol_PollInfo__Output>
}
