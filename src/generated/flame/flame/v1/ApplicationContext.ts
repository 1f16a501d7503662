// Original file: proto/flame/v1/types.proto

import type { Shim as _flame_v1_Shim, Shim__Output as _flame_v1_Shim__Output } from '../../flame/v1/Shim';

export interface ApplicationContext {
  'name'?: (string);
  'shim'?: (_flame_v1_Shim);
  'image'?: (string);
  'command'?: (string);
  'working_directory'?: (string);
  'url'?: (string);
  'installer'?: (string);
  '_image'?: "image";
  '_command'?: "command";
  '_working_directory'?: "working_directory";
  '_url'?: "url";
  '_installer'?: "installer";
}

export interface ApplicationContext__Output {
  'name'?: (string);
  'shim'?: (_flame_v1_Shim__Output);
  'image'?: (string);
  'command'?: (string);
  'working_directory'?: (string);
  'url'?: (string);
  'installer'?: (string);
  '_image'?: "image";
  '_command'?: "command";
  '_working_directory'?: "working_directory";
  '_url'?: "url";
  '_installer'?: "installer";
}
