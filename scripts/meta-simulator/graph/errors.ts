/**
 * @module
 * Graph API failures as Meta sends them (SPEC §5.5, §5.6): the `{"error":{…}}` body with Meta's wording per
 * code/subcode, the HTTP status Meta pairs with it, the `WWW-Authenticate` header of OAuth errors and the
 * usage headers of rate limits. api.instagram.com's OAuth endpoint has its own flat shape
 * (`{"error_type","code","error_message"}`), built by {@link instagramOAuthError}.
 *
 * Runtime-agnostic (Node and workerd): plain `Response`s, no Node APIs.
 */

export type GraphErrorSpec = {
  code: number;
  subcode?: number | null;
  /** Meta's `message`; defaults to the catalogue text of the code/subcode. */
  message?: string;
  /** HTTP status; defaults to what Meta pairs with the code. */
  status?: number;
  type?: string;
  userTitle?: string;
  userMessage?: string;
  /** WhatsApp's `error_data.details`; defaults to the catalogue's for WhatsApp codes. */
  details?: string;
};

/** WhatsApp send errors (SPEC §5.5): Meta's title (the message reads "(#code) title") and `error_data.details`. */
export const WHATSAPP_ERRORS: Record<number, { title: string; details: string }> = {
  130429: { title: "Rate limit hit", details: "Cloud API message throughput has been reached." },
  131000: { title: "Something went wrong", details: "Message failed to send due to an unknown error." },
  131009: { title: "Parameter value is not valid", details: "One or more parameter values are invalid." },
  131026: { title: "Message undeliverable", details: "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted the new Terms of Service; the recipient is using an old WhatsApp version." },
  131047: { title: "Re-engagement message", details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number." },
  131053: { title: "Media upload error", details: "Unable to upload the media used in the message." },
  131056: { title: "(Business Account, Consumer Account) pair rate limit hit", details: "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time." },
  131057: { title: "Account in maintenance mode", details: "Business Account is in maintenance mode. Throughput is being upgraded." },
  132000: { title: "Number of parameters does not match the expected number of params", details: "The number of variable parameter values does not match the number of variables in the template." },
  132001: { title: "Template does not exist", details: "The template does not exist in the specified language or the template has not been approved." },
  132015: { title: "Template is Paused", details: "Template is paused due to low quality so it cannot be sent in a template message." },
  132016: { title: "Template is Disabled", details: "Template has been paused too many times due to low quality and is now permanently disabled." },
};

/** Codes Meta answers with usage headers (app, user, page, BUC and WhatsApp throughput limits). */
export function isRateLimitCode(code: number): boolean {
  return [4, 17, 32, 613, 130429, 131056].includes(code) || (code >= 80000 && code <= 80014);
}

const MESSAGES: Record<number, string> = {
  1: "An unknown error occurred",
  2: "An unexpected error has occurred. Please retry your request later.",
  3: "(#3) Application does not have the capability to make this API call.",
  4: "(#4) Application request limit reached",
  10: "(#10) Application does not have permission for this action",
  17: "(#17) User request limit reached",
  32: "(#32) Page request limit reached",
  100: "(#100) Invalid parameter",
  101: "Error validating application. Invalid application ID.",
  104: "An access token is required to request this resource.",
  190: "Invalid OAuth access token - Cannot parse access token",
  200: "(#200) Permissions error",
  210: "(#210) A page access token is required to request this resource.",
  368: "The action attempted has been deemed abusive or is otherwise disallowed",
  613: "(#613) Calls to this api have exceeded the rate limit.",
  80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
  80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
  80006: "(#80006) There have been too many messaging requests to this Page account. Wait a bit and try again.",
  80007: "(#80007) There have been too many calls to this WhatsApp Business account. Wait a bit and try again.",
  80008: "(#80008) There have been too many calls to this WhatsApp Business account. Wait a bit and try again.",
  130429: "(#130429) Rate limit hit",
  131000: "(#131000) Something went wrong",
  131016: "(#131016) Service unavailable",
  133005: "(#133005) Two step verification PIN Mismatch",
  133006: "(#133006) Phone number re-verification needed",
  133016: "(#133016) Account register deregister rate limit exceeded",
};

/** Messages of error 190 by subcode (Meta's "Error validating access token: …" family). */
function tokenMessage(subcode: number | null | undefined, appId: string, expiredAt?: Date, now?: Date): string {
  switch (subcode) {
    case 458:
      return `Error validating access token: The user has not authorized application ${appId}.`;
    case 459:
      return "Error validating access token: You cannot access the app till you log in to www.facebook.com and follow the instructions given.";
    case 460:
      return "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.";
    case 463: {
      const at = expiredAt ?? new Date();
      return `Error validating access token: Session has expired on ${fbDate(at)}. The current time is ${fbDate(now ?? new Date())}.`;
    }
    case 464:
      return "Error validating access token: Sessions for the user are not allowed because the user is not a confirmed user.";
    case 467:
      return "Error validating access token: The session is invalid because the user logged out.";
    case 492:
      return "Error validating access token: The user is not a member of the Page or has lost the role that was granted to the app.";
    default:
      return MESSAGES[190]!;
  }
}

/** Meta writes "Friday, 14-Aug-26 10:00:00 PDT"; the UTC string carries the same information. */
const fbDate = (date: Date) => date.toUTCString();

function defaultStatus(code: number): number {
  if (code === 1 || code === 131000) return 500;
  if (code === 2 || code === 131016) return 503;
  if (code === 10 || (code >= 200 && code <= 299)) return 403;
  if (code === 130429) return 429;
  return 400;
}

const TRACE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function randomString(length: number, alphabet = TRACE_CHARS): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

export type ErrorContext = { appId: string; businessId: string; expiredAt?: Date; now?: Date };

/** Meta's error body for a spec. */
export type GraphErrorBody = {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    error_user_title?: string;
    error_user_msg?: string;
    error_data?: { messaging_product: "whatsapp"; details: string };
    fbtrace_id: string;
  };
};

export function graphErrorBody(spec: GraphErrorSpec, context: ErrorContext): GraphErrorBody {
  const whatsapp = WHATSAPP_ERRORS[spec.code];
  const message =
    spec.message ??
    (spec.code === 190 ? tokenMessage(spec.subcode, context.appId, context.expiredAt, context.now) : MESSAGES[spec.code]) ??
    (whatsapp ? `(#${spec.code}) ${whatsapp.title}` : `(#${spec.code}) Error`);
  const details = spec.details ?? whatsapp?.details;
  return {
    error: {
      message,
      type: spec.type ?? (spec.code === 100 ? "GraphMethodException" : "OAuthException"),
      code: spec.code,
      ...(spec.subcode != null ? { error_subcode: spec.subcode } : {}),
      ...(spec.userTitle ? { error_user_title: spec.userTitle } : {}),
      ...(spec.userMessage ? { error_user_msg: spec.userMessage } : {}),
      ...(details ? { error_data: { messaging_product: "whatsapp", details } } : {}),
      fbtrace_id: randomString(23),
    },
  };
}

/** A failing Graph response: body, status and the headers Meta adds for auth errors and rate limits. */
export function graphErrorResponse(spec: GraphErrorSpec, context: ErrorContext): Response {
  const body = graphErrorBody(spec, context);
  const headers = new Headers({ "content-type": "application/json; charset=UTF-8" });
  if (spec.code === 190 || spec.code === 102) {
    headers.set("www-authenticate", `OAuth "Facebook Platform" "invalid_token" "${String(body.error.message).replaceAll('"', "'")}"`);
  }
  if (isRateLimitCode(spec.code)) {
    headers.set("x-app-usage", JSON.stringify({ call_count: 100, total_cputime: 31, total_time: 64 }));
    headers.set(
      "x-business-use-case-usage",
      JSON.stringify({
        [context.businessId]: [
          {
            type: spec.code === 80001 || spec.code === 80006 ? "pages" : spec.code === 80002 ? "instagram" : "whatsapp_business_management",
            call_count: 100,
            total_cputime: 25,
            total_time: 40,
            estimated_time_to_regain_access: 5,
          },
        ],
      }),
    );
  }
  return new Response(JSON.stringify(body), { status: spec.status ?? defaultStatus(spec.code), headers });
}

/** api.instagram.com/oauth/access_token failures: `{"error_type":"OAuthException","code":400,"error_message":…}`. */
export function instagramOAuthError(message: string, errorType = "OAuthException"): Response {
  return new Response(JSON.stringify({ error_type: errorType, code: 400, error_message: message }), {
    status: 400,
    headers: { "content-type": "application/json; charset=UTF-8" },
  });
}

/** A successful Graph JSON answer, with the low `X-App-Usage` Meta adds to every response. */
export function graphJson(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=UTF-8",
      "x-app-usage": JSON.stringify({ call_count: 1, total_cputime: 1, total_time: 1 }),
    },
  });
}
