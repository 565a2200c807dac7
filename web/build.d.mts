// Types of build.mjs, for the TypeScript tests that make sure the console is built.
export declare const distDir: string;
/** True when web/dist/index.html exists and is newer than every source. */
export declare function webBuildIsFresh(): boolean;
/** Runs `vite build` when the bundle is stale; returns whether it built. */
export declare function ensureWebBuild(options?: { quiet?: boolean }): boolean;
