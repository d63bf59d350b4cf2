/**
 * @module
 * What an admin can do for a customer's data rights (we are the business's processor): export
 * everything about the contact, restrict them (kept but hidden, nothing sent) or erase them.
 * Each action is audited by the API and answered with a receipt.
 */
import { useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import { navigate } from "../router.ts";
import { Dialog } from "../ui/dialog.tsx";
import { ErrorLine, useAction } from "../ui/form.tsx";

export function ContactPrivacy(props: { workspaceId: string; contactId: string; name: string }) {
  const [run, busy, error] = useAction();
  const [erasing, setErasing] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const params = { params: { path: { workspaceId: props.workspaceId, contactId: props.contactId } } };
  const exportData = () =>
    run(async () => {
      const data = await ok(api.GET("/workspaces/{workspaceId}/privacy/contacts/{contactId}/export", params));
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      link.download = `contact-${props.contactId}.json`;
      link.click();
      URL.revokeObjectURL(link.href);
      setDone("The export was downloaded.");
    });
  const restrict = () =>
    run(async () => {
      await ok(api.PUT("/workspaces/{workspaceId}/privacy/contacts/{contactId}/restriction", { ...params, body: { restricted: true } }));
      navigate(`/w/${props.workspaceId}/inbox`);
    });
  const erase = () =>
    run(async () => {
      await ok(api.POST("/workspaces/{workspaceId}/privacy/contacts/{contactId}/erasure", params));
      navigate(`/w/${props.workspaceId}/inbox`);
    });
  return (
    <details class="contact-privacy">
      <summary>The customer's data rights</summary>
      <p class="hint">When {props.name} asks to see, stop or erase what you hold about them.</p>
      <div class="stack">
        <button disabled={busy} onClick={() => void exportData()}>
          Export their data
        </button>
        <button disabled={busy} onClick={() => void restrict()}>
          Restrict (hide, send nothing)
        </button>
        <button class="danger" disabled={busy} onClick={() => setErasing(true)}>
          Erase…
        </button>
      </div>
      <p role="status">{done}</p>
      <ErrorLine error={error} />
      {erasing && (
        <Dialog title={`Erase ${props.name}?`} onClose={() => setErasing(false)}>
          <p>Their profile, this conversation and every message are erased everywhere we hold them. This cannot be undone.</p>
          <ErrorLine error={error} />
          <div class="equal-buttons">
            <button onClick={() => setErasing(false)}>Keep them</button>
            <button class="danger" disabled={busy} onClick={() => void erase()}>
              Erase for good
            </button>
          </div>
        </Dialog>
      )}
    </details>
  );
}
