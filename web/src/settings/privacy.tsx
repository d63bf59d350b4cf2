/**
 * @module
 * Settings → Privacy centre: cookie and analytics choices (withdrawing is as easy as giving),
 * restriction and objection switches, an export of everything held about the user, account
 * deletion with its plan, profile correction, and every rights request with its due date.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { components } from "../api/openapi.gen.ts";
import { formatDateTime } from "../format.ts";
import { navigate } from "../router.ts";
import { consent, customising } from "../state/consent.ts";
import { loadSession, me } from "../state/session.ts";
import { Dialog } from "../ui/dialog.tsx";
import { Check, ErrorLine, Field, submitting, useAction } from "../ui/form.tsx";

type Schemas = components["schemas"];

function Switches() {
  const [switches, setSwitches] = useState<Schemas["PrivacySwitches"] | null>(null);
  const [run, busy, error] = useAction();
  useEffect(() => void run(async () => setSwitches(await ok(api.GET("/me/privacy")))), []);
  const set = (change: Partial<Schemas["PrivacySwitches"]>) => void run(async () => setSwitches(await ok(api.PUT("/me/privacy", { body: change }))));
  if (!switches) return <ErrorLine error={error} />;
  return (
    <fieldset disabled={busy}>
      <legend>Your switches (effective at once)</legend>
      <Check name="objection" label="I object to product analytics about me" checked={switches.analyticsObjection} onChange={(v) => set({ analyticsObjection: v })} />
      <Check
        name="restriction"
        label="Restrict processing of my data (kept, but used for nothing else until I lift it)"
        checked={switches.processingRestricted}
        onChange={(v) => set({ processingRestricted: v })}
      />
      <ErrorLine error={error} />
    </fieldset>
  );
}

function Exports() {
  const [exports, setExports] = useState<Schemas["Export"][]>([]);
  const [run, busy, error] = useAction();
  const load = () => run(async () => setExports((await ok(api.GET("/me/exports"))).exports));
  useEffect(() => {
    void load();
    // Exports are built in the background: look again while one is in progress.
    const timer = setInterval(() => exports.some((e) => !e.downloadUrl && e.status !== "failed") && void load(), 3000);
    return () => clearInterval(timer);
  }, [exports.length]);
  return (
    <>
      <p>A JSON file of everything we hold about you, each field described. The link works for an hour once it is ready.</p>
      <button
        disabled={busy}
        onClick={() =>
          void run(async () => {
            await ok(api.POST("/me/exports"));
            await load();
          })
        }
      >
        Export my data
      </button>
      <ErrorLine error={error} />
      <ul class="plain">
        {exports.map((e) => (
          <li>
            Requested {formatDateTime(e.createdAt)}:{" "}
            {e.downloadUrl ? (
              <a href={e.downloadUrl} download>
                download ({Math.ceil(e.bytes / 1024)} KB, until {formatDateTime(e.expiresAt)})
              </a>
            ) : (
              e.status
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

function DeleteAccount() {
  const [plan, setPlan] = useState<Schemas["AccountDeletionPlan"] | null>(null);
  const [run, busy, error] = useAction();
  return (
    <>
      <p>Your account is deactivated at once and erased after a grace period, during which you can still cancel.</p>
      <button class="danger" onClick={() => void run(async () => setPlan(await ok(api.GET("/me/deletion"))))}>
        Delete my account…
      </button>
      {!plan && <ErrorLine error={error} />}
      {plan && (
        <Dialog title="Delete your account?" onClose={() => setPlan(null)}>
          <p>It is deactivated now and erased in {plan.graceDays} days; the mail we send you lets you cancel until then.</p>
          {plan.deleted.length > 0 && <p>Erased with it (you are their only member): {plan.deleted.map((w) => w.name).join(", ")}.</p>}
          {plan.kept.length > 0 && <p>You leave: {plan.kept.map((w) => w.name).join(", ")}.</p>}
          {plan.blockers.map((b) => (
            <p class="warning">
              {b.name}: {b.reason}
            </p>
          ))}
          <form
            onSubmit={submitting(run, async ({ password }) => {
              await ok(api.POST("/me/deletion", { body: { password: password! } }));
              me.value = null;
              navigate("/signin");
            })}
          >
            <Field label="Your password, to confirm" name="password" type="password" autoComplete="current-password" required />
            <ErrorLine error={error} />
            <button class="danger" disabled={busy || plan.blockers.length > 0}>
              Delete my account
            </button>
          </form>
        </Dialog>
      )}
    </>
  );
}

function RightsRequests() {
  const [requests, setRequests] = useState<Schemas["RightsRequest"][]>([]);
  useEffect(() => {
    ok(api.GET("/me/rights-requests"))
      .then(({ requests }) => setRequests(requests))
      .catch(() => setRequests([]));
  }, []);
  if (requests.length === 0) return <p class="hint">No requests yet.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Request</th>
          <th scope="col">Received</th>
          <th scope="col">Due by</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {requests.map((r) => (
          <tr>
            <td>{r.kind}</td>
            <td>{formatDateTime(r.receivedAt)}</td>
            <td>{formatDateTime(r.dueAt)}</td>
            <td>{r.completedAt ? `${r.outcome ?? r.status}, ${formatDateTime(r.completedAt)}` : r.status}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function PrivacyCentre() {
  const [run, busy, error] = useAction();
  const c = consent.value;
  const user = me.value!.user;
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Privacy centre</h1>
      <p>
        Read the <a href="/privacy">privacy policy</a>. You accepted version {me.value!.policyVersion}.
      </p>
      <h2>Cookies and analytics</h2>
      <p>
        Preferences: <strong>{c?.preferences ? "allowed" : "not allowed"}</strong>. Analytics: <strong>{c?.analytics ? "allowed" : "not allowed"}</strong>
        {c?.recordedAt ? ` (chosen ${formatDateTime(c.recordedAt)}, policy ${c.policyVersion})` : " (no choice made yet)"}.
      </p>
      <button onClick={() => (customising.value = true)}>Change my cookie choices</button>
      <Switches />
      <h2>Your data</h2>
      <Exports />
      <h2>Correct your profile</h2>
      <form
        onSubmit={submitting(run, async (v) => {
          await ok(api.PATCH("/me", { body: { name: v.name!, phone: v.phone ? v.phone : null } }));
          await loadSession();
        })}
      >
        <Field label="Name" name="name" defaultValue={user.name} required />
        <Field label="Phone (international format)" name="phone" type="tel" defaultValue={user.phone ?? ""} hint="For example +14155550123. Leave empty to remove it." />
        <ErrorLine error={error} />
        <button class="primary" disabled={busy}>
          Save
        </button>
      </form>
      <h2>Delete your account</h2>
      <DeleteAccount />
      <h2>Your requests</h2>
      <RightsRequests />
    </section>
  );
}
