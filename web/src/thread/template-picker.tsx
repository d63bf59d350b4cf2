/**
 * @module
 * Choosing an approved WhatsApp template and filling its {{n}} parameters, with a live preview.
 * Used whenever free-form messages are not allowed (outside the 24-hour window).
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { Template, TemplateSend } from "../api/types.ts";
import { Dialog } from "../ui/dialog.tsx";
import { ErrorLine, messageOf } from "../ui/form.tsx";

type Component = { type?: string; text?: string };
const bodyOf = (t: Template) => ((t.components as Component[]).find((c) => c.type?.toUpperCase() === "BODY")?.text ?? "");
const placeholders = (text: string) => [...new Set([...text.matchAll(/\{\{(\d+)\}\}/g)].map((m) => m[1]!))];

export function TemplatePicker(props: {
  workspaceId: string;
  channelId: string;
  onClose: () => void;
  onSend: (template: TemplateSend) => void;
}) {
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [chosen, setChosen] = useState<Template | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  useEffect(() => {
    ok(api.GET("/workspaces/{workspaceId}/channels/{channelId}/templates", { params: { path: { workspaceId: props.workspaceId, channelId: props.channelId } } }))
      .then(({ templates }) => setTemplates(templates.filter((t) => t.status.toUpperCase() === "APPROVED")))
      .catch((e) => setError(messageOf(e)));
  }, [props.channelId]);
  const body = chosen ? bodyOf(chosen) : "";
  const keys = placeholders(body);
  const complete = keys.every((k) => values[k]?.trim());
  const preview = body.replace(/\{\{(\d+)\}\}/g, (_, k: string) => values[k]?.trim() || `[${k}]`);
  return (
    <Dialog title="Send a template" onClose={props.onClose} wide>
      <p class="hint">
        WhatsApp only allows approved templates more than 24 hours after the customer's last message. When they answer, you can write freely
        again.
      </p>
      <ErrorLine error={error} />
      {templates === null && !error && <p role="status">Loading the approved templates…</p>}
      {templates?.length === 0 && <p>This number has no approved templates yet. Create one in WhatsApp Manager; approval usually takes minutes.</p>}
      {templates && templates.length > 0 && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (!chosen || !complete) return;
            const parameters = keys.map((k) => ({ type: "text", text: values[k]!.trim() }));
            props.onSend({
              name: chosen.name,
              language: chosen.language,
              ...(parameters.length ? { components: [{ type: "body" as const, parameters }] } : {}),
            });
          }}
        >
          <fieldset>
            <legend>Template</legend>
            {templates.map((t) => (
              <label class="radio">
                <input
                  type="radio"
                  name="template"
                  checked={chosen === t}
                  onChange={() => {
                    setChosen(t);
                    setValues({});
                  }}
                />
                <span>
                  <strong>{t.name}</strong> <small>({t.language}, {t.category.toLowerCase()})</small>
                </span>
              </label>
            ))}
          </fieldset>
          {keys.map((k) => (
            <div class="field">
              <label for={`param-${k}`}>Parameter {`{{${k}}}`}</label>
              <input id={`param-${k}`} required value={values[k] ?? ""} onInput={(e) => setValues({ ...values, [k]: e.currentTarget.value })} />
            </div>
          ))}
          {chosen && (
            <div class="template-preview" aria-live="polite">
              <p class="hint">Preview</p>
              <p>{preview}</p>
            </div>
          )}
          <button class="primary" disabled={!chosen || !complete}>
            Send template
          </button>
        </form>
      )}
    </Dialog>
  );
}
