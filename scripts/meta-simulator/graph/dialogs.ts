/**
 * @module
 * Meta's login dialogs, as the browser sees them in the pop-up the inbox opens:
 *
 *   /www.facebook.com/v25.0/dialog/oauth   Facebook Login for Business; with `config_id` and `extras.setup`
 *                                          it is WhatsApp Embedded Signup (SPEC §7.2, §7.3)
 *   /www.instagram.com/oauth/authorize     Instagram Login (SPEC §7.3)
 *
 * GET shows what the app asks for and lets the person choose (a WhatsApp number, Pages, an Instagram
 * account) or cancel; the form posts back to the same address, which sends the browser to
 * `redirect_uri` with `code` and `state`, or with Meta's `error=access_denied` answer. A malformed
 * request gets Meta's error page instead of a redirect, as at Meta. "Hand back an expired code" lets
 * tests see how the product explains a code that Meta no longer accepts.
 */
import { Hono, type Context } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { SimContext } from "./context.ts";
import { createCode, type CodeInput } from "./control.ts";
import type { CodeKind } from "./state.ts";

type Dialog = { kind: CodeKind; appId: string; appName: string; product: string };
/** A request Meta's dialog refuses: it shows an error page, never a redirect. */
type Problem = { title: string; detail: string };
const isProblem = (value: object): value is Problem => "title" in value;

function errorPage(c: Context, problem: Problem) {
  return c.html(page(problem.title, html`<p role="alert">${problem.detail}</p>`), 400);
}

function page(title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
      </head>
      <body>
        <main>
          <h1>${title}</h1>
          <p><small>Meta simulator — stands in for Meta's login dialog in local development and tests.</small></p>
          ${body}
        </main>
      </body>
    </html>`;
}

/** The request checks Meta makes before showing anything; the redirect target comes back with it. */
function checkRequest(c: Context, dialog: Dialog, allowed: string[] | null): { redirect: URL; state: string | null } | Problem {
  const query = c.req.query();
  if (query.client_id !== dialog.appId) return { title: "Invalid App ID", detail: "The provided app ID does not look like a valid app ID." };
  const redirect = URL.parse(query.redirect_uri ?? "");
  const listed = allowed === null || allowed.includes(query.redirect_uri ?? "");
  if (!redirect || (redirect.protocol !== "https:" && redirect.protocol !== "http:") || !listed) {
    return { title: "URL blocked", detail: "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings." };
  }
  if (query.response_type !== "code") return { title: "Unsupported response type", detail: "This app requests response_type=code; the request asked for something else." };
  return { redirect, state: query.state ?? null };
}

function sendBack(c: Context, redirect: URL, state: string | null, params: Record<string, string>, instagram: boolean) {
  for (const [name, value] of Object.entries(params)) redirect.searchParams.set(name, value);
  if (state !== null) redirect.searchParams.set("state", state);
  // Instagram appends `#_` to the redirect; clients must ignore it.
  return c.redirect(`${redirect.toString()}${instagram && params.code ? "#_" : ""}`, 303);
}

const CANCELLED: Record<"facebook" | "instagram", Record<string, string>> = {
  facebook: { error: "access_denied", error_code: "200", error_description: "Permissions error", error_reason: "user_denied" },
  instagram: { error: "access_denied", error_reason: "user_denied", error_description: "The user denied your request." },
};

function dialogRoutes(ctx: SimContext, path: string, host: "facebook" | "instagram") {
  const routes = new Hono();
  const { state } = ctx;
  const dialogFor = (c: Context): Dialog | Problem => {
    if (host === "instagram") return { kind: "instagram_login", appId: state.instagramApp.id, appName: state.instagramApp.name, product: "your Instagram professional account" };
    const extras = c.req.query("extras") ?? "";
    const signup = extras.includes('"setup"');
    if (signup && !c.req.query("config_id")) return { title: "Configuration required", detail: "Embedded Signup needs the config_id of a Facebook Login for Business configuration." };
    return signup
      ? { kind: "whatsapp_embedded_signup", appId: state.app.id, appName: state.app.name, product: "a WhatsApp Business account and phone number" }
      : { kind: "facebook_login", appId: state.app.id, appName: state.app.name, product: "your Facebook Pages and the Instagram accounts linked to them" };
  };

  /** The dialog and where it sends the browser back, or the problem that stops it; GET and POST alike. */
  const open = (c: Context): { dialog: Dialog; checked: { redirect: URL; state: string | null } } | Problem => {
    const dialog = dialogFor(c);
    if (isProblem(dialog)) return dialog;
    const checked = checkRequest(c, dialog, state.redirectUris);
    return isProblem(checked) ? checked : { dialog, checked };
  };

  routes.get(path, (c) => {
    const opened = open(c);
    if (isProblem(opened)) return errorPage(c, opened);
    const { dialog } = opened;
    return c.html(
      page(
        `${dialog.appName} wants to connect ${dialog.product}`,
        html`<form method="post">
          <fieldset>
            <legend>Choose what ${dialog.appName} may use</legend>
            ${choices(ctx, dialog.kind)}
          </fieldset>
          <label>Outcome <select name="outcome"><option value="ok">Meta accepts</option><option value="expired">Hand back an expired code</option></select></label>
          <p>
            <button name="action" value="allow">Continue</button>
            <button name="action" value="cancel">Cancel</button>
          </p>
        </form>`,
      ),
    );
  });

  routes.post(path, async (c) => {
    const opened = open(c);
    if (isProblem(opened)) return errorPage(c, opened);
    const { dialog, checked } = opened;
    const form = await c.req.parseBody({ all: true });
    if (form.action !== "allow") return sendBack(c, checked.redirect, checked.state, CANCELLED[host], host === "instagram");
    const picked = (name: string) => [form[name]].flat().filter((v): v is string => typeof v === "string");
    const input: CodeInput = { kind: dialog.kind, redirectUri: c.req.query("redirect_uri") };
    if (dialog.kind === "whatsapp_embedded_signup") {
      const [wabaId, phoneNumberId] = (picked("number")[0] ?? "").split(":");
      Object.assign(input, { wabaId, phoneNumberId, sharedWabaIds: picked("share_waba") });
    } else if (dialog.kind === "facebook_login") input.pages = picked("page");
    else input.instagramAccountId = picked("account")[0];
    const created = createCode(ctx, input);
    if (!created.ok) return errorPage(c, { title: "Something went wrong", detail: created.error });
    if (form.outcome === "expired") state.codes.get(created.value.code)!.expiresAt = ctx.now() - 1;
    return sendBack(c, checked.redirect, checked.state, { code: created.value.code }, host === "instagram");
  });
  return routes;
}

function choices(ctx: SimContext, kind: CodeKind) {
  const { state } = ctx;
  if (kind === "whatsapp_embedded_signup") {
    const numbers = [...state.phoneNumbers.values()].map(
      (phone, i) =>
        html`<label><input type="radio" name="number" value="${phone.wabaId}:${phone.id}" ${i === 0 ? "checked" : ""} /> ${phone.verifiedName} · ${phone.displayPhoneNumber}
          (${state.wabas.get(phone.wabaId)?.name ?? phone.wabaId})</label><br />`,
    );
    // Meta's grant-only step: access to further WhatsApp Business accounts of the same business.
    const others = [...state.wabas.values()].map(
      (waba) => html`<label><input type="checkbox" name="share_waba" value="${waba.id}" /> Also share ${waba.name}</label><br />`,
    );
    return [...numbers, html`<p>Other WhatsApp Business accounts</p>`, ...others];
  }
  if (kind === "facebook_login") {
    return [...state.pages.values()].map((p) => {
      const instagram = p.instagramAccountId ? state.instagramAccounts.get(p.instagramAccountId) : undefined;
      return html`<label><input type="checkbox" name="page" value="${p.id}" checked /> ${p.name}${instagram ? ` (with Instagram @${instagram.username})` : ""}</label><br />`;
    });
  }
  return [...state.instagramAccounts.values()].map(
    (a, i) => html`<label><input type="radio" name="account" value="${a.id}" ${i === 0 ? "checked" : ""} /> @${a.username} · ${a.name}</label><br />`,
  );
}

export const facebookDialogRoutes = (ctx: SimContext) => dialogRoutes(ctx, "/dialog/oauth", "facebook");
export const instagramDialogRoutes = (ctx: SimContext) => dialogRoutes(ctx, "/oauth/authorize", "instagram");
