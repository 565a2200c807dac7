// The web console: static files built by Vite, served at /.
import type { RestRouter } from "./rest/router.ts";

export function registerConsole(_rest: RestRouter): void {}
