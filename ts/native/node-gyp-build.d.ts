declare module 'node-gyp-build' {
  /** Loads the best native binary below `dir` (build/Release, build/Debug, then prebuilds/). */
  function load(dir: string): unknown;
  namespace load {
    /** The path `load` would require, or throws when none matches. */
    function resolve(dir: string): string;
  }
  export = load;
}
