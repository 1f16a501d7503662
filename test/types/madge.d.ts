// The part of madge's API the layer test uses (madge ships no types; @types/madge describes v5).
declare module 'madge' {
  interface MadgeResult {
    /** Each file (relative to the base dir) and the files it imports. */
    obj(): Record<string, string[]>;
  }
  function madge(path: string, config?: { fileExtensions?: string[]; tsConfig?: string }): Promise<MadgeResult>;
  export default madge;
}
