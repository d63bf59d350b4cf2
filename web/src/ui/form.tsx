/**
 * @module
 * Form pieces: labelled fields, the one error line a form shows, and a submit helper that keeps the
 * button busy while the request runs and turns failures into the API's own message.
 */
import type { ComponentChildren, InputHTMLAttributes } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "../api/client.ts";

let nextId = 0;
const useId = () => useState(() => `f${++nextId}`)[0];

type InputProps = InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string };

export function Field({ label, hint, ...input }: InputProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
    </div>
  );
}

export function Check(props: { label: ComponentChildren; name: string; required?: boolean; checked?: boolean; onChange?: (v: boolean) => void }) {
  const id = useId();
  return (
    <div class="check">
      <input
        type="checkbox"
        id={id}
        name={props.name}
        required={props.required}
        checked={props.checked}
        onChange={(e) => props.onChange?.(e.currentTarget.checked)}
      />
      <label for={id}>{props.label}</label>
    </div>
  );
}

export function ErrorLine(props: { error: string | null }) {
  return (
    <p class="error" role="alert" hidden={!props.error}>
      {props.error}
    </p>
  );
}

export const messageOf = (error: unknown) =>
  error instanceof ApiError ? error.message : error instanceof Error ? error.message : "Something went wrong. Try again.";

/** [run, busy, error]: run(fn) shows fn's failure as a sentence and never throws. */
export function useAction(): [(fn: () => Promise<void>) => Promise<void>, boolean, string | null] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return [run, busy, error];
}

const formValues = (form: HTMLFormElement) => Object.fromEntries(new FormData(form)) as Record<string, string>;

/** A form's onSubmit: no page load, and `fn` gets the form's values (and the form) through `run`. */
export const submitting =
  (run: (fn: () => Promise<void>) => Promise<void>, fn: (values: Record<string, string>, form: HTMLFormElement) => Promise<void>) =>
  (event: SubmitEvent) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    void run(() => fn(formValues(form), form));
  };
