// Meta posts its webhooks here when the Pages domain is the callback URL (functions/forward.ts).
export { forward as onRequest } from "../forward.ts";
