import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { InstanceClient as _flame_InstanceClient, InstanceDefinition as _flame_InstanceDefinition } from './flame/Instance';
import type { ApplicationContext as _flame_v1_ApplicationContext, ApplicationContext__Output as _flame_v1_ApplicationContext__Output } from './flame/v1/ApplicationContext';
import type { EmptyRequest as _flame_v1_EmptyRequest, EmptyRequest__Output as _flame_v1_EmptyRequest__Output } from './flame/v1/EmptyRequest';
import type { InstanceClient as _flame_v1_InstanceClient, InstanceDefinition as _flame_v1_InstanceDefinition } from './flame/v1/Instance';
import type { Result as _flame_v1_Result, Result__Output as _flame_v1_Result__Output } from './flame/v1/Result';
import type { SessionContext as _flame_v1_SessionContext, SessionContext__Output as _flame_v1_SessionContext__Output } from './flame/v1/SessionContext';
import type { TaskContext as _flame_v1_TaskContext, TaskContext__Output as _flame_v1_TaskContext__Output } from './flame/v1/TaskContext';
import type { TaskResult as _flame_v1_TaskResult, TaskResult__Output as _flame_v1_TaskResult__Output } from './flame/v1/TaskResult';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  flame: {
    Instance: SubtypeConstructor<typeof grpc.Client, _flame_InstanceClient> & { service: _flame_InstanceDefinition }
    v1: {
      ApplicationContext: MessageTypeDefinition<_flame_v1_ApplicationContext, _flame_v1_ApplicationContext__Output>
      EmptyRequest: MessageTypeDefinition<_flame_v1_EmptyRequest, _flame_v1_EmptyRequest__Output>
      Instance: SubtypeConstructor<typeof grpc.Client, _flame_v1_InstanceClient> & { service: _flame_v1_InstanceDefinition }
      Result: MessageTypeDefinition<_flame_v1_Result, _flame_v1_Result__Output>
      SessionContext: MessageTypeDefinition<_flame_v1_SessionContext, _flame_v1_SessionContext__Output>
      Shim: EnumTypeDefinition
      TaskContext: MessageTypeDefinition<_flame_v1_TaskContext, _flame_v1_TaskContext__Output>
      TaskResult: MessageTypeDefinition<_flame_v1_TaskResult, _flame_v1_TaskResult__Output>
    }
  }
}

