import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

/** An error from the API, read out by screen readers as soon as it appears. */
export function ErrorMessage({ error }: { error: string | null }) {
  if (error === null) return null;
  return (
    <div class="error" role="alert">
      {error.split('\n').map((line, index) => (index === 0 ? <p key={index}>{line}</p> : <p key={index} class="error-field">{line}</p>))}
    </div>
  );
}

/**
 * A modal dialog on the browser's own `<dialog>`: focus moves into it and stays there, Escape closes it,
 * and focus goes back to what opened it. `onClose` runs however it closes.
 */
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; labelId: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={props.labelId} onClose={props.onClose} onCancel={props.onClose}>
      <h2 id={props.labelId}>{props.title}</h2>
      {props.open ? props.children : null}
    </dialog>
  );
}

/** Loads once (and again when `deps` change); `reload` fetches again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({ data: null, error: null, loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => current && setState({ data, error: null, loading: false }),
      (error: unknown) => current && setState({ data: null, error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return { ...state, reload: () => setRound((n) => n + 1) };
}

/** A status as a labelled badge: the word carries the meaning, the colour only repeats it. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status.replace(/[^a-z_]/g, '')}`}>{status.replace(/_/g, ' ')}</span>;
}

export function ScopeList({ scopes }: { scopes: readonly string[] }) {
  return (
    <ul class="scopes" aria-label="Scopes">
      {scopes.map((scope) => (
        <li key={scope}>
          <code>{scope}</code>
        </li>
      ))}
    </ul>
  );
}

/** "Loading…" announced politely, so a screen reader knows the page is still coming. */
export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}
