// Every /api/* request goes to the Worker (functions/forward.ts).
export { forward as onRequest } from "../forward.ts";
