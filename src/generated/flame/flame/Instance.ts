// Original file: proto/flame/legacy/shim.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { EmptyRequest as _flame_v1_EmptyRequest, EmptyRequest__Output as _flame_v1_EmptyRequest__Output } from '../flame/v1/EmptyRequest';
import type { Result as _flame_v1_Result, Result__Output as _flame_v1_Result__Output } from '../flame/v1/Result';
import type { SessionContext as _flame_v1_SessionContext, SessionContext__Output as _flame_v1_SessionContext__Output } from '../flame/v1/SessionContext';
import type { TaskContext as _flame_v1_TaskContext, TaskContext__Output as _flame_v1_TaskContext__Output } from '../flame/v1/TaskContext';
import type { TaskResult as _flame_v1_TaskResult, TaskResult__Output as _flame_v1_TaskResult__Output } from '../flame/v1/TaskResult';

export interface InstanceClient extends grpc.Client {
  OnSessionEnter(argument: _flame_v1_SessionContext, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  OnSessionEnter(argument: _flame_v1_SessionContext, metadata: grpc.Metadata, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  OnSessionEnter(argument: _flame_v1_SessionContext, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  OnSessionEnter(argument: _flame_v1_SessionContext, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  onSessionEnter(argument: _flame_v1_SessionContext, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  onSessionEnter(argument: _flame_v1_SessionContext, metadata: grpc.Metadata, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  onSessionEnter(argument: _flame_v1_SessionContext, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  onSessionEnter(argument: _flame_v1_SessionContext, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  
  OnSessionLeave(argument: _flame_v1_EmptyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  OnSessionLeave(argument: _flame_v1_EmptyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  OnSessionLeave(argument: _flame_v1_EmptyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  OnSessionLeave(argument: _flame_v1_EmptyRequest, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  onSessionLeave(argument: _flame_v1_EmptyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  onSessionLeave(argument: _flame_v1_EmptyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  onSessionLeave(argument: _flame_v1_EmptyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  onSessionLeave(argument: _flame_v1_EmptyRequest, callback: grpc.requestCallback<_flame_v1_Result__Output>): grpc.ClientUnaryCall;
  
  OnTaskInvoke(argument: _flame_v1_TaskContext, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  OnTaskInvoke(argument: _flame_v1_TaskContext, metadata: grpc.Metadata, callback: grpc.requestCallback<_flame_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  OnTaskInvoke(argument: _flame_v1_TaskContext, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  OnTaskInvoke(argument: _flame_v1_TaskContext, callback: grpc.requestCallback<_flame_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  onTaskInvoke(argument: _flame_v1_TaskContext, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  onTaskInvoke(argument: _flame_v1_TaskContext, metadata: grpc.Metadata, callback: grpc.requestCallback<_flame_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  onTaskInvoke(argument: _flame_v1_TaskContext, options: grpc.CallOptions, callback: grpc.requestCallback<_flame_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  onTaskInvoke(argument: _flame_v1_TaskContext, callback: grpc.requestCallback<_flame_v1_TaskResult__Output>): grpc.ClientUnaryCall;
  
}

export interface InstanceHandlers extends grpc.UntypedServiceImplementation {
  OnSessionEnter: grpc.handleUnaryCall<_flame_v1_SessionContext__Output, _flame_v1_Result>;
  
  OnSessionLeave: grpc.handleUnaryCall<_flame_v1_EmptyRequest__Output, _flame_v1_Result>;
  
  OnTaskInvoke: grpc.handleUnaryCall<_flame_v1_TaskContext__Output, _flame_v1_TaskResult>;
  
}

export interface InstanceDefinition extends grpc.ServiceDefinition {
  OnSessionEnter: MethodDefinition<_flame_v1_SessionContext, _flame_v1_Result, _flame_v1_SessionContext__Output, _flame_v1_Result__Output>
  OnSessionLeave: MethodDefinition<_flame_v1_EmptyRequest, _flame_v1_Result, _flame_v1_EmptyRequest__Output, _flame_v1_Result__Output>
  OnTaskInvoke: MethodDefinition<_flame_v1_TaskContext, _flame_v1_TaskResult, _flame_v1_TaskContext__Output, _flame_v1_TaskResult__Output>
}
