import { useState } from 'preact/hooks';
import { Dialog } from '../components.js';

/**
 * The one time a key's secret is on screen (after creating or rolling it). Closing the dialog, by its
 * button or by Escape, drops the secret from the page's state: it is not kept anywhere to show again.
 */
export function SecretDialog({ secret, keyName, onClose }: { secret: string | null; keyName: string; onClose: () => void }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const close = () => {
    setCopied('no');
    onClose();
  };
  const copy = async () => {
    if (secret === null) return;
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      // No clipboard permission: the field is selected, so Ctrl+C / ⌘C copies it.
      (document.getElementById('new-secret') as HTMLInputElement | null)?.select();
      setCopied('failed');
    }
  };
  return (
    <Dialog title={`Copy the secret of “${keyName}”`} labelId="secret-title" open={secret !== null} onClose={close}>
      <p class="warning" id="secret-warning">
        <strong>This is the only time the secret is shown.</strong> Store it in your secret manager now. SkaleData keeps only a hash of it:
        if it is lost, roll the key to get a new one.
      </p>
      <label for="new-secret">Secret</label>
      <div class="copy-row">
        <input id="new-secret" type="text" readonly value={secret ?? ''} aria-describedby="secret-warning" spellcheck={false} autocomplete="off" onFocus={(event) => (event.currentTarget as HTMLInputElement).select()} />
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p role="status" class="muted">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'failed' ? 'The browser refused the clipboard: the secret is selected, copy it with Ctrl+C (⌘C).' : ''}
      </p>
      <div class="actions">
        <button type="button" onClick={close}>
          I have stored it
        </button>
      </div>
    </Dialog>
  );
}
